"""Every state change and every file handed out declares its audit record: each POST/PUT/PATCH/DELETE of
every service's OpenAPI document (built from the code now, not the committed copy), every download, and
every message handler. A new endpoint or handler without a declaration fails here; a declared view that
answers without recording fails in the integration tests (`audited` checks it when the app is testing)."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from sqlalchemy import MetaData

from services.common import audit
from services.common.contracts import CONTRACT
from services.common.openapi import services_with_api, spec_of

pytestmark = pytest.mark.unit

STATE_CHANGING = ("post", "put", "patch", "delete")
ACTION = re.compile(r"^[a-z_]+\.[a-z_]+$")
# GET operations that hand out a document's bytes (a link to them): each is audited like a change
HANDOUTS = re.compile(r"/(download|export)$")
SPECS = {svc: spec_of(svc) for svc in services_with_api()}


def operations(predicate: Any) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (svc, method.upper(), path, op)
        for svc, spec in SPECS.items()
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if predicate(method, path)
    ]


def declared(op: dict[str, Any]) -> bool:
    actions, exempt = op.get("x-audit"), op.get("x-audit-exempt")
    if actions is not None:
        return bool(actions) and all(ACTION.match(a) for a in actions)
    return isinstance(exempt, str) and len(exempt) > 20


def test_there_are_operations_to_check_in_every_service():
    assert set(SPECS) == {"identity", "plans", "documents", "finance", "notifications"}
    assert len(operations(lambda m, p: m in STATE_CHANGING)) > 50


def test_every_state_changing_operation_declares_its_audit_action_or_why_it_has_none():
    missing = [
        f"{svc} {method} {path}"
        for svc, method, path, op in operations(lambda m, p: m in STATE_CHANGING)
        if not declared(op)
    ]
    assert not missing, f"state changes without an audit declaration (@audited / @not_audited): {missing}"


def test_every_download_is_audited():
    handouts = operations(lambda m, p: m == "get" and HANDOUTS.search(p))
    assert ("documents", "GET", "/documents/{document_id}/download") in [h[:3] for h in handouts]
    for svc, method, path, op in handouts:
        assert op.get("x-audit"), f"{svc} {method} {path} hands out a file without an audit record"


def test_exemptions_are_few_and_each_says_why():
    exempt = [(svc, m, p) for svc, m, p, op in operations(lambda m, p: True) if "x-audit-exempt" in op]
    assert sorted(exempt) == [
        ("identity", "POST", "/auth/links/inspect"),  # a read (the secret travels in the body, not a URL)
        ("identity", "POST", "/auth/refresh"),
        ("notifications", "POST", "/inbox/read-all"),
        ("notifications", "POST", "/inbox/{item_id}/read"),
        ("plans", "POST", "/students/search"),
    ]


@pytest.mark.parametrize("service", ["identity", "plans", "documents", "finance", "notifications"])
def test_every_message_handler_declares_its_audit_actions_or_why_it_has_none(service):
    tasks = importlib.import_module(f"services.{service}.tasks")
    consumed = {name for name, spec in CONTRACT.tasks.items() if spec.service == service}
    declarations = getattr(tasks, "AUDIT", {})
    assert set(declarations) == consumed, (
        f"{service}: handlers without a declaration {sorted(consumed - set(declarations))}, "
        f"declarations without a handler {sorted(set(declarations) - consumed)}"
    )
    for name, value in declarations.items():
        if isinstance(value, str):
            assert len(value) > 20, f"{name}: say why it records nothing"
        else:
            assert value and all(ACTION.match(a) for a in value), name


def test_the_audit_shape_is_the_same_in_every_service():
    expected = {c.name: (type(c.type).__name__, c.nullable) for c in audit.audit_table(MetaData()).columns}
    for service in ("identity", "plans", "documents", "finance", "notifications"):
        models = importlib.import_module(f"services.{service}.models")
        table = models.Base.metadata.tables.get(audit.TABLE)
        assert table is not None, f"{service} has no audit table"
        assert {c.name: (type(c.type).__name__, c.nullable) for c in table.columns} == expected, service


def test_details_are_plain_json_without_personal_codes():
    import uuid
    from datetime import date
    from decimal import Decimal

    value = {
        "code": "120305-12345",
        "text": "Anna 32123456789 kvīts",
        "ids": {uuid.UUID(int=1)},
        "amount": Decimal("12.30"),
        "day": date(2026, 10, 1),
        "long": "x" * 2000,
    }
    assert audit.plain(value) == {
        "code": "***********",
        "text": "Anna *********** kvīts",
        "ids": [str(uuid.UUID(int=1))],
        "amount": "12.30",
        "day": "2026-10-01",
        "long": "x" * audit.MAX_DETAIL,
    }
