"""What every service's OpenAPI document says of errors, decimals and pages, as the kernel writes it."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from services.common.errors import PROBLEM_JSON
from services.common.openapi import services_with_api, spec_of
from services.common.pagination import MAX_PAGE, PageArgs
from services.common.web import DOCUMENTED_ERRORS

pytestmark = pytest.mark.unit

SPECS = {svc: spec_of(svc) for svc in services_with_api()}


def _resolve(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    ref = response.get("$ref")
    return spec["components"]["responses"][ref.rsplit("/", 1)[1]] if ref else response


@pytest.mark.parametrize("svc", sorted(SPECS))
def test_every_operation_documents_its_errors_as_problem_json(svc: str) -> None:
    spec = SPECS[svc]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            responses = op["responses"]
            assert {str(s) for s in DOCUMENTED_ERRORS} <= set(responses), (method, path)
            for status, response in responses.items():
                if status == "default" or int(status) >= 400:
                    content = _resolve(spec, response).get("content", {})
                    assert list(content) == [PROBLEM_JSON], (method, path, status)
                    assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize("svc", sorted(SPECS))
def test_a_problem_may_carry_members_of_its_own_and_decimals_are_strings(svc: str) -> None:
    schemas = SPECS[svc]["components"]["schemas"]
    assert schemas["Problem"].get("additionalProperties", True) is not False  # retry_after, status_now, ...

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("format") == "decimal":
                yield node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for prop in walk(schemas):
        assert prop["type"] == "string" and prop["pattern"], prop


def test_a_page_past_the_limit_is_invalid_input_not_an_offset_overflow() -> None:
    """schemathesis asked for page 437 397 749 696 751 808: its row offset overflowed PostgreSQL's bigint (a 500)."""
    assert PageArgs().load({"page": str(MAX_PAGE)})["page"] == MAX_PAGE
    with pytest.raises(ValidationError) as err:
        PageArgs().load({"page": "437397749696751808"})
    assert "page" in err.value.messages
    assert (MAX_PAGE - 1) * 500 < 2**63 - 1


def _months(node: Any, where: str = "") -> Any:
    """Every property or parameter named like a month, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "month" and isinstance(value, dict) and ("type" in value or "$ref" not in value):
                yield where, value
            if node.get("name") == "month" and key == "schema":
                yield where, value
            yield from _months(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _months(value, f"{where}/{i}")


def test_a_month_is_written_one_way_in_every_document() -> None:
    """Issue 13: `format: date` months (claims, statements) beside `YYYY-MM` ones (uploads); now all are YYYY-MM."""
    from services.common.months import MONTH_PATTERN

    seen = 0
    for svc, spec in SPECS.items():
        for where, prop in _months(spec):
            seen += 1
            assert prop.get("type") == "string" and prop.get("pattern") == MONTH_PATTERN, (svc, where, prop)
            assert "format" not in prop, (svc, where, prop)
    assert seen >= 10  # documents' uploads, lists and packages, finance's claims and statements
