"""Issue 13: the signed application goes on file by one action, its upload; plans learns of it by message.

A PATCH can no longer put it on file, and only a stored application that fits the plan's institution, school,
student and status counts. Plans answers documents with its verdict, and tells the uploader when it does not fit.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from services.plans.models import MESSAGING, AuditEvent, TimelineEvent
from tests.integration.plans.conftest import application_message, file_application, send_as
from tests.integration.plans.test_plan_lifecycle import act, outbox, ready_plan, school  # noqa: F401  (a fixture)
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def _draft(c: Any, site: dict[str, Any]) -> dict[str, Any]:
    """A plan ready but for its application: put on file by a function that files nothing."""
    return ready_plan(c, site, file=lambda plan, signer: None)


def test_a_patch_cannot_put_an_application_on_file_and_the_refusal_says_what_to_do(plans_client, school):  # noqa: F811
    c, h = plans_client, school["preparer"]["headers"]
    plan = _draft(c, school)
    patched = c.patch(
        f"/plans/{plan['id']}",
        headers=h,
        json={"application_signer": "parent", "application_signed_on": "2026-09-02"},
    )
    assert patched.status_code == 422 and set(patched.json["errors"]) == {"application_signer", "application_signed_on"}
    refused = act(c, plan["id"], "submit", school["preparer"])
    assert refused.status_code == 409 and refused.json["code"] == "application_missing"
    assert "kind=application" in refused.json["detail"] and "signed_on" in refused.json["detail"]
    assert "kind=application" in refused.json["detail_lv"] and "Augšupielādējiet" in refused.json["detail_lv"]
    assert c.get(f"/plans/{plan['id']}", headers=h).json["status"] == "draft"


def test_an_uploaded_application_goes_on_file_once_and_the_plan_can_be_submitted(plans_client, school, plans_runtime):  # noqa: F811
    c, h = plans_client, school["preparer"]["headers"]
    plan = _draft(c, school)
    assert plan["application_on_file"] is False
    assert file_application(plans_runtime, plan, "parent") == "accepted"
    body = application_message(plan, "parent")
    again = send_as(plans_runtime, "plans.register_application", body)  # delivered again, a new message id

    def handled() -> bool:
        with plans_runtime.db.session() as s:
            done = MESSAGING.processed
            return s.execute(select(done).where(done.c.message_id == again)).first() is not None

    wait_for(handled, message="the second delivery handled")
    on_file = c.get(f"/plans/{plan['id']}", headers=h).json
    assert on_file["application_on_file"] is True and on_file["application_document_id"] == body["document_id"]
    assert (on_file["application_signer"], on_file["application_signed_on"]) == ("parent", "2026-09-02")

    [accepted] = [r.payload for r in outbox(plans_runtime, "documents.set_review_status")]
    assert accepted["status"] == "accepted" and accepted["source"] == "plans" and accepted["version"] == 1
    assert accepted["reasons"][0]["rule_id"] == "application.on_file"
    with plans_runtime.db.session() as s:
        recorded = s.execute(select(AuditEvent).where(AuditEvent.action == "plan.application_recorded")).scalars()
        assert [(a.target_id, str(a.actor_id)) for a in recorded] == [(plan["id"], plan["preparer_id"])]
        kinds = s.execute(select(TimelineEvent.kind).where(TimelineEvent.plan_id == uuid.UUID(plan["id"]))).scalars()
        assert "application_on_file" in list(kinds)

    submitted = act(c, plan["id"], "submit", school["preparer"])
    assert submitted.status_code == 200 and submitted.json["status"] == "in_approval"
    # once submitted, a new version of the application is not taken: the plan is reviewed first
    assert file_application(plans_runtime, plan, "guardian", version=2) == "needs_fix"
    assert c.get(f"/plans/{plan['id']}", headers=h).json["application_signer"] == "parent"


def test_an_application_that_does_not_fit_is_sent_back_to_its_uploader(plans_client, school, plans_world):  # noqa: F811
    c, h = plans_client, school["preparer"]["headers"]
    plan = _draft(c, school)
    runtime = plans_client.application.extensions["runtime"]
    other_student = str(uuid.uuid4())
    assert file_application(runtime, plan, "parent", student_id=other_student) == "needs_fix"
    assert file_application(runtime, plan, "student", version=2) == "needs_fix"  # a minor's is a parent's
    stranger = plans_world.tenant("municipality", region="latgale")
    foreign = file_application(
        runtime, plan, "parent", version=3, tenant_id=stranger["id"], school_id=stranger["school"]
    )
    assert foreign == "needs_fix"  # another institution's upload names no plan of its own
    reasons = [r.payload["reasons"][0]["rule_id"] for r in outbox(runtime, "documents.set_review_status")]
    assert reasons == ["application.student_wrong", "application.signer_wrong", "application.plan_unknown"]
    told = [r.payload for r in outbox(runtime, "notifications.document_verdict")]
    assert [(t["status"], t["uploaded_by"]) for t in told] == [("needs_fix", plan["preparer_id"])] * 3
    assert told[0]["reasons"][0]["text_lv"] and told[0]["reasons"][0]["text_en"]
    fetched = c.get(f"/plans/{plan['id']}", headers=h).json
    assert fetched["application_on_file"] is False and fetched["application_document_id"] is None
    assert act(c, plan["id"], "submit", school["preparer"]).json["code"] == "application_missing"

    def refused_audited() -> int:
        with runtime.db.session() as s:
            rows = s.execute(select(AuditEvent).where(AuditEvent.action == "plan.application_refused")).scalars()
            return len(list(rows))

    assert refused_audited() == 3  # each refusal audited, in the transaction that sent its verdict
