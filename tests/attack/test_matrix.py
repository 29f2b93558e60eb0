"""Every operation of every service, called by every kind of wrong caller, against tenant A's real objects.

The operations come from each app's own OpenAPI document (the code that writes docs/openapi/), so a new
endpoint gets a row here or `test_every_operation_has_an_expectation` fails. The callers:

(a) no token, (b) an expired token signed with identity's real key, (c) valid claims signed by a foreign
RSA key under identity's key id: 401 problem+json with the stable code (`unauthenticated`,
`token_expired`, `invalid_token`). Each is sent a body that is not even JSON, so a 401 (not a 400)
proves the token is judged before any body is parsed.

(d) staff of tenant B holding the role that does this in their own tenant, aimed at tenant A's objects:
- a path naming one of A's objects answers 404 `not_found`;
- a body naming A's objects (a plan for A's student, a webhook for A) is refused;
- a list answers 200 without any of A's ids, or refuses;
- an operation on one's own things (inbox, preferences, the session) shows nothing of A's;
- a platform admin's operation answers 403 to anyone else.

(e) staff of tenant A with too little role for the operation: 403 (or 404 where the service hides the
object from that role).

"No trace of the target's existence" is checked as:
- the same answer for A's object as for a random id that exists nowhere: the request is sent again with
  every id of A's world replaced by a fresh UUID, and the two answers must have the same status and the
  same problem body, field for field (only `instance`, the path itself, and `request_id` differ);
- no row changed: a digest of every table of the called service's database (each table's rows as text,
  hashed) is the same before and after each refused call, so nothing was written, audited, queued in the
  outbox or half-done.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text

from services.common.openapi import services_with_api, spec_of
from tests.attack.conftest import MONTH, SEMESTER, SERVICES, AttackWorld
from tests.integration.plans.conftest import MINOR_CODE, OTHER_MINOR_CODE

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
METHODS = ("get", "post", "put", "patch", "delete")

# what (d) expects
PUBLIC = "public"  # no token needed: login, refresh, JWKS
ADMIN = "admin"  # the platform admin's: 403 for anyone else, whatever the target
HIDDEN = "hidden"  # the path names an object of A: 404, as for an id that does not exist
REFUSED = "refused"  # the body or query names A's objects: refused exactly as for ids that do not exist
LISTED = "listed"  # a list or a search: 200 with nothing of A's, or refused as for ids that do not exist
SELF = "self"  # the caller's own things: answered, with nothing of A's

Body = Callable[[AttackWorld], Any]


@dataclass(frozen=True)
class Op:
    """What one operation expects of callers (d) and (e)."""

    d: str
    who: str = "municipality"  # the role (a name of conftest.STAFF) whose B twin calls as (d)
    e: str | None = None  # A's staff member with too little role; None: `why` says who may
    why: str = ""
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> a world id, or "=literal"
    query: dict[str, str] = field(default_factory=dict)  # the same for query parameters
    body: Body | None = None
    multipart: bool = False
    own: bool = False  # (d) changes the caller's own rows (ends their session, sets their preferences)
    fresh: bool = False  # (d) ends the session it comes with: a session of its own each time


def order(w: AttackWorld) -> dict[str, Any]:
    return {
        "school_id": w.ids["school"],
        "kind": "remote_consultations",
        "number": "1-8/21",
        "issued_on": "2026-09-28",
        "valid_from": "2026-10-01",
        "valid_to": "2026-12-22",
        "platform": "Zoom",
        "confirmation_method": "Apstiprinājums e-klasē",
        "plan_ids": [w.ids["plan"]],
        "providers": [{"provider_id": w.ids["provider"], "subject": "Psiholoģiskais atbalsts"}],
    }


def student(w: AttackWorld) -> dict[str, Any]:
    return {
        "school_id": w.ids["school"],
        "first_name": "Rūta",
        "last_name": "Egle",
        "personal_code": OTHER_MINOR_CODE,
        "grade": 7,
        "declared_municipality": "Ventspils novads",
        "actual_municipality": "Ventspils novads",
    }


def student_list(_w: AttackWorld) -> dict[str, Any]:
    data = "Vārds;Uzvārds;Personas kods;Klase;Deklarētā dzīvesvieta;Faktiskā dzīvesvieta\n"
    data += "Anna;Liepa;150508-21002;11;Ventspils novads;Ventspils novads\n"
    return {"file": (io.BytesIO(data.encode()), "skoleni.csv")}


def expense(w: AttackWorld) -> dict[str, Any]:
    from tests.unit.documents.samples import pdf

    return w.expense_form(pdf(marker=uuid.uuid4().hex))


def new_version(_w: AttackWorld) -> dict[str, Any]:
    from tests.unit.documents.samples import pdf

    return {"amount": "13.40", "file": (io.BytesIO(pdf(marker=uuid.uuid4().hex)), "kvits-2.pdf")}


def comment(_w: AttackWorld) -> dict[str, Any]:
    return {"comment": "Lūdzu papildināt / please add"}


def dead_letters(svc: str) -> dict[str, Op]:
    return {
        "GET /admin/dead-letters": Op(ADMIN, e="municipality"),
        "POST /admin/dead-letters/{dead_letter_id}/replay": Op(
            ADMIN, e="municipality", params={"dead_letter_id": f"{svc}_dead_letter"}
        ),
    }


def audit_reads() -> dict[str, Op]:
    # B's auditor reads B's audit records only; A's municipality coordinator is no auditor
    return {"GET /audit": Op(LISTED, who="auditor", e="municipality")}


EVERY_USER = "every signed-in user may"
TENANT_READERS = "every user of the tenant reads it"

EXPECTATIONS: dict[str, dict[str, Op]] = {
    "identity": {
        **dead_letters("identity"),
        **audit_reads(),
        "GET /.well-known/jwks.json": Op(PUBLIC),
        "POST /auth/login": Op(PUBLIC),
        "POST /auth/refresh": Op(PUBLIC, why="the refresh token in the body is the credential"),
        "POST /auth/logout": Op(SELF, why=EVERY_USER, body=lambda w: {}, own=True, fresh=True),
        "GET /auth/me": Op(SELF, why=EVERY_USER),
        "PATCH /auth/me": Op(SELF, why=EVERY_USER, body=lambda w: {"language": "lv"}),
        "GET /auth/sessions": Op(SELF, why=EVERY_USER),
        "DELETE /auth/sessions/{session_id}": Op(
            HIDDEN, why="every user ends only their own sessions", params={"session_id": "session"}
        ),
        "POST /auth/sessions/end-others": Op(SELF, who="bystander", why=EVERY_USER, own=True, fresh=True),
        "POST /auth/password-reset": Op(PUBLIC, why="anyone may ask; the answer never tells who has an account"),
        "POST /auth/links/inspect": Op(PUBLIC, why="the link's secret in the body is the credential"),
        "POST /auth/links/complete": Op(PUBLIC, why="the link's secret in the body is the credential"),
        "POST /auth/password": Op(
            SELF,
            why=EVERY_USER,
            body=lambda w: {"current_password": "not-the-password-1", "new_password": "a-new-password-123"},
        ),
        "GET /keys": Op(ADMIN, e="municipality"),
        "POST /keys/rotate": Op(ADMIN, e="municipality"),
        "PATCH /schools/{school_id}": Op(
            HIDDEN, e="municipality", params={"school_id": "school"}, body=lambda w: {"name": "Pārdēvēta"}
        ),
        "GET /tenants": Op(LISTED, why="every user lists the tenants they see", query={"region": "=kurzeme"}),
        "POST /tenants": Op(
            ADMIN,
            e="municipality",
            body=lambda w: {
                "kind": "municipality",
                "name": "Jauns novads",
                "registration_number": "90000099999",
                "region": "kurzeme",
            },
        ),
        "GET /tenants/{tenant_id}": Op(HIDDEN, why=TENANT_READERS, params={"tenant_id": "tenant"}),
        "PATCH /tenants/{tenant_id}": Op(
            HIDDEN, e="municipality", params={"tenant_id": "tenant"}, body=lambda w: {"name": "Pārdēvēts"}
        ),
        "GET /tenants/{tenant_id}/schools": Op(HIDDEN, why=TENANT_READERS, params={"tenant_id": "tenant"}),
        "POST /tenants/{tenant_id}/schools": Op(
            HIDDEN,
            e="municipality",
            params={"tenant_id": "tenant"},
            body=lambda w: {"name": "Jauna skola", "registration_number": "40900099999"},
        ),
        "GET /staff": Op(
            LISTED, who="preparer", why="every user of a school lists its staff", query={"school_id": "school"}
        ),
        "GET /users": Op(LISTED, e="teacher", query={"tenant_id": "tenant"}),
        "POST /users": Op(
            REFUSED,
            e="teacher",
            body=lambda w: {
                "email": f"{uuid.uuid4().hex[:10]}@example.test",
                "full_name": "Jauns Skolotājs",
                "tenant_id": w.ids["tenant"],
                "password": "user-password-123",
                "roles": [{"role": "teacher", "tenant_id": w.ids["tenant"], "school_id": w.ids["school"]}],
            },
        ),
        "GET /users/{user_id}": Op(HIDDEN, e="provider", params={"user_id": "user"}),
        "PATCH /users/{user_id}": Op(
            HIDDEN, e="accountant", params={"user_id": "user"}, body=lambda w: {"full_name": "Cits Vārds"}
        ),
        "POST /users/{user_id}/roles": Op(
            HIDDEN,
            e="accountant",
            params={"user_id": "user"},
            body=lambda w: {"role": "support_provider", "tenant_id": w.ids["tenant"], "school_id": w.ids["school"]},
        ),
        "DELETE /users/{user_id}/roles/{grant_id}": Op(
            HIDDEN, e="accountant", params={"user_id": "user", "grant_id": "grant"}
        ),
        "POST /users/{user_id}/sessions/revoke": Op(HIDDEN, e="accountant", params={"user_id": "user"}),
        "POST /users/{user_id}/invite": Op(HIDDEN, e="accountant", params={"user_id": "user"}),
        "POST /users/{user_id}/unlock": Op(HIDDEN, e="accountant", params={"user_id": "user"}),
    },
    "plans": {
        **dead_letters("plans"),
        **audit_reads(),
        "GET /orders": Op(LISTED, who="director", why=TENANT_READERS, query={"school_id": "school"}),
        "POST /orders": Op(REFUSED, who="director", e="teacher", body=order),
        "GET /orders/{order_id}": Op(HIDDEN, who="director", why=TENANT_READERS, params={"order_id": "order"}),
        "GET /plans": Op(LISTED, who="coordinator", why=TENANT_READERS, query={"tenant_id": "tenant"}),
        "POST /plans": Op(
            REFUSED,
            who="preparer",
            e="auditor",
            body=lambda w: {"student_id": w.ids["student"], "semester": "2026/2027-2", "preparation_hours": "4"},
        ),
        "GET /plans/{plan_id}": Op(HIDDEN, who="coordinator", why=TENANT_READERS, params={"plan_id": "plan"}),
        "PATCH /plans/{plan_id}": Op(
            HIDDEN, who="preparer", e="auditor", params={"plan_id": "plan"}, body=lambda w: {"preparation_hours": "5"}
        ),
        "GET /plans/{plan_id}/agreements": Op(
            HIDDEN, who="coordinator", why=TENANT_READERS, params={"plan_id": "plan"}
        ),
        "POST /plans/{plan_id}/agreements": Op(
            HIDDEN,
            who="coordinator",
            e="teacher",
            params={"plan_id": "plan"},
            body=lambda w: {
                "measure_id": w.ids["measure"],
                "provider_id": w.ids["provider"],
                "signed_on": "2026-09-12",
            },
        ),
        "POST /plans/{plan_id}/approve": Op(
            HIDDEN, who="director", e="auditor", params={"plan_id": "plan"}, body=lambda w: {}
        ),
        "GET /plans/{plan_id}/consultations": Op(
            HIDDEN, who="coordinator", why=TENANT_READERS, params={"plan_id": "plan"}
        ),
        "POST /plans/{plan_id}/consultations": Op(
            HIDDEN,
            who="provider",
            e="teacher",
            params={"plan_id": "plan"},
            body=lambda w: {
                "measure_id": w.ids["measure"],
                "provider_id": w.ids["provider"],
                "held_on": "2026-10-06",
                "hours": "1",
                "subject": "Psiholoģiska konsultācija",
                "mode": "in_person",
            },
        ),
        "POST /plans/{plan_id}/delete": Op(
            HIDDEN, who="preparer", e="auditor", params={"plan_id": "plan"}, body=comment
        ),
        "GET /plans/{plan_id}/evaluation": Op(
            HIDDEN, who="coordinator", why=TENANT_READERS, params={"plan_id": "plan"}
        ),
        "PUT /plans/{plan_id}/evaluation": Op(
            HIDDEN,
            who="preparer",
            e="accountant",
            params={"plan_id": "plan"},
            body=lambda w: {"outcome": "partly_met", "text": "Kavējumu mazāk / fewer absences"},
        ),
        "GET /plans/{plan_id}/ka-form": Op(HIDDEN, who="coordinator", why=TENANT_READERS, params={"plan_id": "plan"}),
        "POST /plans/{plan_id}/measures": Op(
            HIDDEN,
            who="preparer",
            e="auditor",
            params={"plan_id": "plan"},
            body=lambda w: {
                "kind": "consultation",
                "provider_type": "teacher",
                "planned_hours": "2",
                "risk_ids": [w.ids["risk"]],
            },
        ),
        "DELETE /plans/{plan_id}/measures/{measure_id}": Op(
            HIDDEN, who="preparer", e="auditor", params={"plan_id": "plan", "measure_id": "measure"}
        ),
        "POST /plans/{plan_id}/resume": Op(
            HIDDEN, who="director", e="auditor", params={"plan_id": "plan"}, body=comment
        ),
        "POST /plans/{plan_id}/review": Op(
            HIDDEN, who="director", e="auditor", params={"plan_id": "plan"}, body=comment
        ),
        "POST /plans/{plan_id}/risks": Op(
            HIDDEN,
            who="preparer",
            e="auditor",
            params={"plan_id": "plan"},
            body=lambda w: {"category": "family", "justification": "Ģimenes apstākļi / family"},
        ),
        "DELETE /plans/{plan_id}/risks/{risk_id}": Op(
            HIDDEN, who="preparer", e="auditor", params={"plan_id": "plan", "risk_id": "risk"}
        ),
        "POST /plans/{plan_id}/send-back": Op(
            HIDDEN, who="director", e="auditor", params={"plan_id": "plan"}, body=comment
        ),
        "POST /plans/{plan_id}/submit": Op(
            HIDDEN, who="preparer", e="auditor", params={"plan_id": "plan"}, body=comment
        ),
        "POST /plans/{plan_id}/suspend": Op(
            HIDDEN, who="director", e="auditor", params={"plan_id": "plan"}, body=comment
        ),
        "GET /students": Op(LISTED, who="coordinator", why=TENANT_READERS, query={"school_id": "school"}),
        "POST /students": Op(REFUSED, who="coordinator", e="teacher", body=student),
        "GET /students/imports": Op(LISTED, who="coordinator", why=TENANT_READERS, query={"school_id": "school"}),
        "POST /students/imports": Op(
            REFUSED, who="coordinator", e="teacher", query={"school_id": "school"}, body=student_list, multipart=True
        ),
        "GET /students/imports/{import_id}": Op(
            HIDDEN, who="coordinator", why=TENANT_READERS, params={"import_id": "import"}
        ),
        "POST /students/imports/{import_id}/commit": Op(
            HIDDEN, who="coordinator", e="teacher", params={"import_id": "import"}
        ),
        "POST /students/search": Op(
            LISTED, who="coordinator", why=TENANT_READERS, body=lambda w: {"personal_code": MINOR_CODE}
        ),
        "GET /students/{student_id}": Op(
            HIDDEN, who="coordinator", why=TENANT_READERS, params={"student_id": "student"}
        ),
        "PATCH /students/{student_id}": Op(
            HIDDEN, who="coordinator", e="teacher", params={"student_id": "student"}, body=lambda w: {"grade": 8}
        ),
        "GET /students/{student_id}/timeline": Op(
            HIDDEN, who="coordinator", why=TENANT_READERS, params={"student_id": "student"}
        ),
    },
    "documents": {
        **dead_letters("documents"),
        **audit_reads(),
        "GET /documents": Op(LISTED, who="coordinator", why=TENANT_READERS, query={"tenant_id": "tenant"}),
        "POST /documents": Op(REFUSED, who="coordinator", e="teacher", body=expense, multipart=True),
        "DELETE /documents/{document_id}": Op(
            HIDDEN, e="coordinator", params={"document_id": "document"}, query={"reason": "=retention ended"}
        ),
        "GET /documents/{document_id}": Op(HIDDEN, who="coordinator", e="provider", params={"document_id": "document"}),
        "GET /documents/{document_id}/audit": Op(
            HIDDEN, who="coordinator", e="provider", params={"document_id": "document"}
        ),
        "GET /documents/{document_id}/download": Op(
            HIDDEN, who="coordinator", e="provider", params={"document_id": "document"}
        ),
        "GET /documents/{document_id}/downloads": Op(
            HIDDEN, who="coordinator", e="provider", params={"document_id": "document"}
        ),
        "GET /documents/{document_id}/history": Op(
            HIDDEN, who="coordinator", e="provider", params={"document_id": "document"}
        ),
        "GET /documents/{document_id}/versions": Op(
            HIDDEN, who="coordinator", e="provider", params={"document_id": "document"}
        ),
        "POST /documents/{document_id}/versions": Op(
            HIDDEN,
            who="coordinator",
            e="teacher",
            params={"document_id": "document"},
            body=new_version,
            multipart=True,
        ),
        "GET /packages/{month}": Op(
            REFUSED, who="accountant", e="teacher", params={"month": f"={MONTH}"}, query={"tenant_id": "tenant"}
        ),
    },
    "finance": {
        **dead_letters("finance"),
        **audit_reads(),
        "GET /attestations": Op(LISTED, who="accountant", e="teacher", query={"tenant_id": "tenant"}),
        "GET /claims": Op(LISTED, who="accountant", e="teacher", query={"tenant_id": "tenant"}),
        "GET /claims/{claim_id}": Op(HIDDEN, who="accountant", e="teacher", params={"claim_id": "claim"}),
        "POST /claims/{claim_id}/override": Op(
            HIDDEN,
            who="accountant",
            e="director",
            params={"claim_id": "claim"},
            body=lambda w: {"reason": "Pārbaudīts uz vietas / checked on site"},
        ),
        "POST /claims/{claim_id}/override/confirm": Op(
            HIDDEN, who="accountant", e="director", params={"claim_id": "claim"}, body=lambda w: {"note": "Piekrītu"}
        ),
        "GET /overview": Op(ADMIN, who="accountant", e="accountant", query={"semester": f"={SEMESTER}"}),
        "GET /overview/regions/{region}": Op(
            REFUSED, who="accountant", e="teacher", params={"region": "=kurzeme"}, query={"semester": f"={SEMESTER}"}
        ),
        "GET /overview/tenants/{tenant_id}": Op(
            HIDDEN, who="accountant", e="teacher", params={"tenant_id": "tenant"}, query={"semester": f"={SEMESTER}"}
        ),
        "GET /reservations": Op(LISTED, who="accountant", e="teacher", query={"tenant_id": "tenant"}),
        "GET /settings": Op(SELF, who="accountant", why="the programme's settings are the same for everyone"),
        "GET /settings/history": Op(SELF, who="accountant", why="the programme's settings are the same for everyone"),
        "POST /settings": Op(
            ADMIN,
            who="accountant",
            e="accountant",
            body=lambda w: {"effective_from": "2027-01-01", "reason": "Jaunas likmes", "preparation_rate": "21.00"},
        ),
        "GET /statements": Op(LISTED, who="accountant", e="teacher", query={"tenant_id": "tenant"}),
        "POST /statements": Op(
            REFUSED,
            who="accountant",
            e="director",
            body=lambda w: {"tenant_id": w.ids["tenant"], "month": MONTH},
        ),
        "GET /statements/{statement_id}": Op(
            HIDDEN, who="accountant", e="teacher", params={"statement_id": "statement"}
        ),
    },
    "notifications": {
        **dead_letters("notifications"),
        **audit_reads(),
        "GET /admin/deliveries": Op(ADMIN, e="municipality"),
        "GET /inbox": Op(SELF, who="director", why=EVERY_USER),
        "POST /inbox/read-all": Op(SELF, who="director", why=EVERY_USER, own=True),
        "GET /inbox/unread-count": Op(SELF, who="director", why=EVERY_USER),
        "POST /inbox/{item_id}/read": Op(HIDDEN, who="director", e="teacher", params={"item_id": "inbox_item"}),
        "GET /preferences": Op(SELF, why=EVERY_USER),
        "PUT /preferences/{kind}": Op(
            SELF,
            why=EVERY_USER,
            params={"kind": "=plan_approved"},
            body=lambda w: {"email": False, "inbox": True},
            own=True,
        ),
        "GET /webhooks": Op(LISTED, e="teacher", query={"tenant_id": "tenant"}),
        "POST /webhooks": Op(
            REFUSED, e="teacher", body=lambda w: {"url": "http://127.0.0.1:9/other", "tenant_id": w.ids["tenant"]}
        ),
        "DELETE /webhooks/{webhook_id}": Op(HIDDEN, e="teacher", params={"webhook_id": "webhook"}),
        "GET /webhooks/{webhook_id}": Op(HIDDEN, e="teacher", params={"webhook_id": "webhook"}),
        "PATCH /webhooks/{webhook_id}": Op(
            HIDDEN, e="teacher", params={"webhook_id": "webhook"}, body=lambda w: {"description": "Mainīts"}
        ),
        "GET /webhooks/{webhook_id}/deliveries": Op(HIDDEN, e="teacher", params={"webhook_id": "webhook"}),
        "POST /webhooks/{webhook_id}/rotate-secret": Op(HIDDEN, e="teacher", params={"webhook_id": "webhook"}),
    },
}


def spec_operations() -> list[tuple[str, str]]:
    """(service, "METHOD /path") for every operation the apps document, read from the apps themselves."""
    found = []
    for svc in services_with_api():
        for path, item in spec_of(svc)["paths"].items():
            found += [(svc, f"{m.upper()} {path}") for m in item if m in METHODS]
    return found


OPERATIONS = spec_operations()
GUARDED = [(svc, op) for svc, op in OPERATIONS if EXPECTATIONS.get(svc, {}).get(op, Op(HIDDEN)).d != PUBLIC]
WITH_E = [(svc, op) for svc, op in OPERATIONS if EXPECTATIONS.get(svc, {}).get(op, Op(PUBLIC)).e]


def expectation(svc: str, op: str) -> Op:
    found = EXPECTATIONS.get(svc, {}).get(op)
    if found is None:
        pytest.fail(f"{svc}: {op} has no expectation in tests/attack/test_matrix.py: add one")
    return found


# ---- calling --------------------------------------------------------------------------------------


def _value(w: AttackWorld, ref: str) -> str:
    """A literal ("=..."), an object of B ("b:..."), or one of A."""
    if ref.startswith("="):
        return ref[1:]
    return w.b_ids[ref[2:]] if ref.startswith("b:") else w.ids[ref]


def _swap(value: Any, swaps: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in swaps.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_swap(v, swaps) for v in value]
    if isinstance(value, dict):
        return {k: _swap(v, swaps) for k, v in value.items()}
    return value


def call(
    w: AttackWorld,
    svc: str,
    op_key: str,
    headers: dict[str, str],
    *,
    swaps: dict[str, str] | None = None,
    malformed: bool = False,
    probe: Op | None = None,
) -> Any:
    """Call one operation on A's objects (or, with `swaps`, on ids that exist nowhere)."""
    op = probe or expectation(svc, op_key)
    method, template = op_key.split(" ", 1)
    swaps = swaps or {}
    path = template
    for name, ref in op.params.items():
        path = path.replace("{" + name + "}", _value(w, ref))
    query = {k: _value(w, ref) for k, ref in op.query.items()}
    path, query = _swap(path, swaps), _swap(query, swaps)
    kwargs: dict[str, Any] = {"headers": headers, "query_string": query}
    if malformed:
        if op.multipart:
            kwargs.update(data=b"--x\r\nnot a form", content_type="multipart/form-data; boundary=x")
        elif op.body is not None:
            kwargs.update(data=b'{"not json', content_type="application/json")
    elif op.body is not None:
        body = op.body(w)
        if op.multipart:
            files = {k: v for k, v in body.items() if isinstance(v, tuple)}
            kwargs.update(data={**_swap({k: v for k, v in body.items() if k not in files}, swaps), **files})
            kwargs["content_type"] = "multipart/form-data"
        else:
            kwargs["json"] = _swap(body, swaps)
    return w.clients[svc].open(path, method=method, **kwargs)


def random_ids(w: AttackWorld) -> dict[str, str]:
    """Each id of A's world -> a fresh UUID that names nothing anywhere."""
    return {v: str(uuid.uuid4()) for v in w.ids.values()}


def answer(resp: Any) -> tuple[int, Any]:
    """Status and body of an answer, without the parts that name the request itself."""
    if not resp.get_data():
        return resp.status_code, None
    if resp.mimetype in (PROBLEM, "application/json"):
        body = dict(resp.json) if isinstance(resp.json, dict) else resp.json
        if isinstance(body, dict):
            body.pop("instance", None)
            body.pop("request_id", None)
        return resp.status_code, body
    return resp.status_code, resp.get_data(as_text=True)


_DIGESTS: dict[str, str] = {}


def db_state(w: AttackWorld, svc: str) -> dict[str, str]:
    """Each table of the service's database -> a hash of all its rows."""
    runtime = w.rt(svc)
    with runtime.db.session() as s:
        if svc not in _DIGESTS:
            names = s.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version' ORDER BY tablename"
                )
            ).scalars()
            _DIGESTS[svc] = " UNION ALL ".join(
                f"SELECT '{n}', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"{n}\" x"
                for n in names
            )
        return {str(t): str(h) for t, h in s.execute(text(_DIGESTS[svc])).all()}


def unchanged(w: AttackWorld, svc: str, before: dict[str, str]) -> None:
    after = db_state(w, svc)
    changed = sorted(t for t in after if after[t] != before.get(t))
    assert not changed, f"a refused call changed rows of {svc}: {changed}"


def a_ids_in(w: AttackWorld, resp: Any) -> list[str]:
    """Names of A's objects whose ids the answer holds (a problem's `instance` is only the caller's own path)."""
    body = json.dumps(answer(resp)[1])
    return sorted(name for name, value in w.ids.items() if value in body)


def refused_alike(
    w: AttackWorld, svc: str, op_key: str, headers: dict[str, str], resp: Any, probe: Op | None = None
) -> tuple[int, Any]:
    """The answer for A's objects must be the answer for ids that exist nowhere, field for field."""
    ghost = call(w, svc, op_key, headers, swaps=random_ids(w), probe=probe)
    assert answer(resp) == answer(ghost), f"{op_key} tells A's objects from missing ones"
    return answer(resp)


# ---- tokens -------------------------------------------------------------------------------------


def _claims_of(user: dict[str, Any]) -> dict[str, Any]:
    return dict(jwt.decode(user["tokens"]["access_token"], options={"verify_signature": False}))


@pytest.fixture(scope="module")
def bad_tokens(attack_world: AttackWorld) -> dict[str, tuple[dict[str, str], str]]:
    """Headers for (a), (b) and (c) with the code each must be refused with."""
    kid, private_pem = attack_world.signing_key()
    now = int(time.time())
    claims = _claims_of(attack_world.a["municipality"])
    expired = jwt.encode(
        {**claims, "iat": now - 3600, "exp": now - 600}, private_pem, algorithm="RS256", headers={"kid": kid}
    )
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign_pem = foreign_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = jwt.encode({**claims, "iat": now, "exp": now + 300}, foreign_pem, algorithm="RS256", headers={"kid": kid})
    return {
        "no_token": ({}, "unauthenticated"),
        "expired": ({"Authorization": f"Bearer {expired}"}, "token_expired"),
        "foreign_key": ({"Authorization": f"Bearer {forged}"}, "invalid_token"),
    }


# ---- the matrix ---------------------------------------------------------------------------------


def test_every_operation_has_an_expectation() -> None:
    documented = {f"{svc} {op}" for svc, op in OPERATIONS}
    expected = {f"{svc} {op}" for svc, ops in EXPECTATIONS.items() for op in ops}
    assert sorted(documented - expected) == [], "operations without an expectation"
    assert sorted(expected - documented) == [], "expectations of operations that no longer exist"
    assert {svc for svc, _ in OPERATIONS} == set(SERVICES)
    for svc, ops in EXPECTATIONS.items():
        for key, op in ops.items():
            assert op.d == PUBLIC or op.e or op.why, f"{svc} {key}: name a caller with too little role, or say why"


@pytest.mark.parametrize(("svc", "op_key"), GUARDED, ids=[f"{s} {o}" for s, o in GUARDED])
@pytest.mark.parametrize("caller", ["no_token", "expired", "foreign_key"])
def test_a_caller_without_a_valid_token_is_refused_before_the_body_is_read(
    attack_world: AttackWorld, bad_tokens: dict[str, Any], svc: str, op_key: str, caller: str
) -> None:
    headers, code = bad_tokens[caller]
    before = db_state(attack_world, svc)
    resp = call(attack_world, svc, op_key, headers, malformed=True)
    assert resp.status_code == 401, (resp.status_code, resp.get_data(as_text=True))
    assert resp.mimetype == PROBLEM
    assert resp.json["code"] == code
    assert resp.json["detail_lv"] and resp.json["title_lv"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    unchanged(attack_world, svc, before)


@pytest.mark.parametrize(("svc", "op_key"), GUARDED, ids=[f"{s} {o}" for s, o in GUARDED])
def test_staff_of_another_tenant_get_nothing_of_tenant_a(attack_world: AttackWorld, svc: str, op_key: str) -> None:
    w = attack_world
    op = expectation(svc, op_key)
    caller = w.b[op.who]
    headers = w.login_again(caller) if op.fresh else caller["headers"]
    before = db_state(w, svc)
    resp = call(w, svc, op_key, headers)
    assert resp.status_code < 500, resp.get_data(as_text=True)
    assert a_ids_in(w, resp) == [], f"{op_key} showed tenant A's objects to tenant B"
    if op.d == ADMIN:
        assert (resp.status_code, resp.json["code"]) == (403, "forbidden"), resp.json
    elif op.d == HIDDEN:
        assert (resp.status_code, resp.json["code"]) == (404, "not_found"), resp.json
        refused_alike(w, svc, op_key, headers, resp)
    elif op.d == REFUSED:
        assert resp.status_code in (403, 404, 422), resp.json
        refused_alike(w, svc, op_key, headers, resp)
    elif op.d == LISTED and resp.status_code != 200:
        refused_alike(w, svc, op_key, headers, resp)
    if op.own:
        from services.notifications.models import InboxItem

        with w.rt("notifications").db.session() as s:
            assert s.get(InboxItem, uuid.UUID(w.ids["inbox_item"])).read_at is None  # type: ignore[union-attr]
    elif resp.status_code >= 400 or op.d != SELF:
        unchanged(w, svc, before)


@pytest.mark.parametrize(("svc", "op_key"), WITH_E, ids=[f"{s} {o}" for s, o in WITH_E])
def test_staff_with_too_little_role_are_refused(attack_world: AttackWorld, svc: str, op_key: str) -> None:
    w = attack_world
    op = expectation(svc, op_key)
    assert op.e is not None
    headers = w.a[op.e]["headers"]
    before = db_state(w, svc)
    resp = call(w, svc, op_key, headers)
    assert resp.status_code in (403, 404), (resp.status_code, resp.get_data(as_text=True))
    assert resp.mimetype == PROBLEM and resp.json["code"] in ("forbidden", "not_found"), resp.json
    if resp.status_code == 404:
        refused_alike(w, svc, op_key, headers, resp)
    unchanged(w, svc, before)


def test_public_operations_are_exactly_the_listed_ones(attack_world: AttackWorld) -> None:
    """A view is public only by the `public` mark; the documented public ones are the listed ones."""
    from services.common.auth import _is_public

    for svc, app in attack_world.apps.items():
        marked: set[str] = set()
        for rule in app.url_map.iter_rules():
            path = rule.rule
            for conv in ("uuid:", "string:", "path:"):
                path = path.replace("<" + conv, "<")
            path = path.replace("<", "{").replace(">", "}")
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                with app.test_request_context(rule.rule, method=method):
                    if _is_public(app, rule.endpoint):
                        marked.add(f"{method} {path}")
        listed = {op for op, e in EXPECTATIONS[svc].items() if e.d == PUBLIC}
        documented = {op for s, op in OPERATIONS if s == svc}
        assert marked & documented == listed, svc
        undocumented = marked - documented
        assert undocumented <= NOT_DOCUMENTED, (svc, undocumented - NOT_DOCUMENTED)


# routes outside the OpenAPI documents, public on purpose: probes, metrics and the docs themselves
NOT_DOCUMENTED = {
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /docs",
    "GET /docs/{filename}",
    "GET /docs/assets/{filename}",
    "GET /static/{filename}",
}


def test_the_public_routes_answer_without_a_token(attack_world: AttackWorld) -> None:
    for svc, app in attack_world.apps.items():
        for route in ("/healthz", "/metrics", "/openapi.json"):
            assert attack_world.clients[svc].get(route).status_code == 200, (svc, route)
    jwks = attack_world.clients["identity"].get("/.well-known/jwks.json")
    assert jwks.status_code == 200 and jwks.json["keys"]
    assert json.dumps(jwks.json).find("private") == -1


# B working on its own objects while naming one of A's in the body: refused exactly as for an id that
# names nothing, never linked to A's object (the matrix above aims at A's objects by the path)
CROSS: list[tuple[str, str, Op]] = [
    (
        "identity",
        "POST /users/{user_id}/roles",
        Op(
            REFUSED,
            params={"user_id": "b:user"},
            body=lambda w: {"role": "support_provider", "tenant_id": w.b_ids["tenant"], "school_id": w.ids["school"]},
        ),
    ),
    (
        "identity",
        "POST /users",
        Op(
            REFUSED,
            body=lambda w: {
                "email": f"{uuid.uuid4().hex[:10]}@example.test",
                "full_name": "Jauns Skolotājs",
                "tenant_id": w.b_ids["tenant"],
                "password": "user-password-123",
                "roles": [{"role": "teacher", "tenant_id": w.b_ids["tenant"], "school_id": w.ids["school"]}],
            },
        ),
    ),
    (
        "plans",
        "POST /plans",
        Op(
            REFUSED,
            who="preparer",
            body=lambda w: {"student_id": w.b_ids["student"], "semester": "2026/2027-2", "preparer_id": w.ids["user"]},
        ),
    ),
    (
        "plans",
        "PATCH /plans/{plan_id}",
        Op(REFUSED, who="preparer", params={"plan_id": "b:plan"}, body=lambda w: {"preparer_id": w.ids["user"]}),
    ),
    (
        "plans",
        "POST /plans/{plan_id}/measures",
        Op(
            REFUSED,
            who="preparer",
            params={"plan_id": "b:plan"},
            body=lambda w: {
                "kind": "consultation",
                "provider_type": "teacher",
                "planned_hours": "2",
                "risk_ids": [w.ids["risk"]],
            },
        ),
    ),
    (
        "plans",
        "POST /orders",
        Op(
            REFUSED,
            who="director",
            body=lambda w: {
                **order(w),
                "school_id": w.b_ids["school"],
                "providers": [{"provider_id": w.b_ids["provider"], "subject": "Psiholoģiskais atbalsts"}],
            },
        ),
    ),
    (
        "plans",
        "POST /orders",
        Op(
            REFUSED,
            who="director",
            body=lambda w: {**order(w), "school_id": w.b_ids["school"], "plan_ids": [w.b_ids["plan"]]},
        ),
    ),
]


@pytest.mark.parametrize(("svc", "op_key", "probe"), CROSS, ids=[f"{s} {o} {i}" for i, (s, o, _) in enumerate(CROSS)])
def test_naming_another_tenants_object_in_a_body_is_answered_as_naming_nothing(
    attack_world: AttackWorld, svc: str, op_key: str, probe: Op
) -> None:
    w = attack_world
    headers = w.b[probe.who]["headers"]
    before = db_state(w, svc)
    resp = call(w, svc, op_key, headers, probe=probe)
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True))
    assert a_ids_in(w, resp) == []
    refused_alike(w, svc, op_key, headers, resp, probe=probe)
    unchanged(w, svc, before)


def test_the_row_digest_sees_a_change(attack_world: AttackWorld) -> None:
    """The digest the refusals are checked with moves when one field of one row does."""
    w = attack_world
    before = db_state(w, "notifications")
    changed = w.clients["notifications"].patch(
        f"/webhooks/{w.ids['webhook']}", headers=w.a["municipality"]["headers"], json={"description": "Mainīts"}
    )
    assert changed.status_code == 200, changed.json
    with pytest.raises(AssertionError, match="webhooks"):
        unchanged(w, "notifications", before)
