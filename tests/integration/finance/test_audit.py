"""Finance's audit: each check run of a claim (from a message or a request), each override step and each
settings change is a record, with the message or request it came from, read by the tenant's auditors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from services.finance.models import AuditEvent
from tests.integration.finance.conftest import expense, send_as
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def records(runtime: Any, target_id: str) -> list[AuditEvent]:
    with runtime.db.session() as s:
        query = select(AuditEvent).where(AuditEvent.target_id == target_id).order_by(AuditEvent.id)
        return list(s.execute(query).scalars())


def test_checks_and_overrides_are_recorded_with_their_message_or_request(fin_world, finance, fin_runtime):
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant)
    body = expense(tenant, plan)  # no attestation on file: needs fixing
    message_id = send_as(fin_runtime, "finance.check_expense_document", body)
    claim_id = str(fin_world.claim_of(body["document_id"]).id)
    first, second = fin_world.user(tenant, "accountant"), fin_world.user(tenant, "accountant")
    auditor, elsewhere = fin_world.user(tenant, "auditor"), fin_world.user(fin_world.tenant(), "auditor")

    [checked] = wait_for(lambda: records(fin_runtime, claim_id), message="the check's audit record")
    assert (checked.action, checked.actor_id, str(checked.tenant_id)) == ("claim.checked", None, tenant["id"])
    assert checked.request_id == message_id
    assert checked.details == {**checked.details, "run": 1, "trigger": "document", "verdict": "needs_fix"}

    reason = {"reason": "The attestation is on paper in the municipality's archive."}
    asked = finance.post(
        f"/claims/{claim_id}/override", headers={**first["headers"], "X-Request-ID": "ask-1"}, json=reason
    )
    assert asked.status_code == 201
    done = finance.post(
        f"/claims/{claim_id}/override/confirm", headers={**second["headers"], "X-Request-ID": "confirm-1"}, json={}
    )
    assert done.status_code == 200
    rows = records(fin_runtime, claim_id)
    assert [(r.action, r.actor_id and str(r.actor_id), r.request_id) for r in rows] == [
        ("claim.checked", None, message_id),
        ("claim.override_requested", first["id"], "ask-1"),
        ("claim.override_confirmed", second["id"], "confirm-1"),
        ("claim.checked", None, "confirm-1"),  # the check the confirmation ran, in its transaction
    ]
    assert rows[1].details == {"rules": ["attestation.covers"]} and reason["reason"] not in str(rows[1].details)
    assert rows[3].details["verdict"] == "accepted" and rows[3].details["previous_verdict"] == "needs_fix"

    seen = finance.get("/audit", headers=auditor["headers"], query_string={"target_id": claim_id}).json
    assert [i["action"] for i in seen["items"]] == [r.action for r in reversed(rows)]
    assert finance.get("/audit", headers=elsewhere["headers"], query_string={"target_id": claim_id}).json["total"] == 0


def test_a_settings_change_is_recorded_with_who_and_which_values(finance, fin_runtime, admin_headers):
    changed = finance.post(
        "/settings",
        headers=admin_headers,
        json={"effective_from": "2027-01-01", "reason": "New rates", "consultation_rates": {"psychologist": "31.00"}},
    )
    assert changed.status_code == 201, changed.json
    [row] = records(fin_runtime, str(changed.json["revision"]))
    assert row.action == "settings.changed" and row.tenant_id is None and row.actor_id is not None
    assert row.details["fields"] == ["consultation_rates"] and row.details["effective_from"] == "2027-01-01"
    assert uuid.UUID(str(row.actor_id))
