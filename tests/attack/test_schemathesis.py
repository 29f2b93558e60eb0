"""schemathesis against every service's OpenAPI document, in process through each WSGI app.

Each operation is called with generated requests as the platform admin and as tenant A's municipality
coordinator, both with valid tokens, so the requests get past authentication: schema-valid requests aimed
at A's real objects (path parameters named for them take their ids), and schema-invalid ones. Every answer
must not be a 5xx, and must match what the document says of that status, errors (problem+json) included.
Bounded: a few examples per operation and mode, Hypothesis derandomized, no shrinking.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.attack.conftest import MONTH, SERVICES, AttackWorld

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 4  # per operation, mode and caller
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
# path parameters that name one of A's objects; the rest are generated
REAL = {
    "tenant_id": "tenant",
    "school_id": "school",
    "user_id": "user",
    "grant_id": "grant",
    "plan_id": "plan",
    "risk_id": "risk",
    "measure_id": "measure",
    "order_id": "order",
    "import_id": "import",
    "student_id": "student",
    "document_id": "document",
    "claim_id": "claim",
    "statement_id": "statement",
    "webhook_id": "webhook",
    "item_id": "inbox_item",
}
LITERAL = {"month": MONTH, "region": "kurzeme", "kind": "plan_approved"}


def real_path(w: AttackWorld, svc: str, operation: Any) -> dict[str, str]:
    names = [p.name for p in operation.path_parameters]
    ids = {**{k: w.ids[v] for k, v in REAL.items()}, **LITERAL, "dead_letter_id": w.ids[f"{svc}_dead_letter"]}
    return {n: ids[n] for n in names if n in ids}


@pytest.mark.parametrize("who", ["admin", "coordinator"])
@pytest.mark.parametrize("svc", SERVICES)
def test_no_server_error_and_every_answer_matches_the_document(attack_world: AttackWorld, svc: str, who: str) -> None:
    w = attack_world
    user = w.admin if who == "admin" else w.a["municipality"]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", w.apps[svc])
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, path in (
            (GenerationMode.POSITIVE, real_path(w, svc, operation)),
            (GenerationMode.NEGATIVE, None),
        ):

            @HYPOTHESIS
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path))
            def run(case: Any) -> None:
                response = case.call(headers=w.mint(user))
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body): no negative case exists
                pass
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups its failures
                failures.append(f"{operation.label} ({mode}): {type(exc).__name__}: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)
