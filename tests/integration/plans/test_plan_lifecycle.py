"""The plan lifecycle and the approval chains, through plans' HTTP API, on real servers and a real worker."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from services.plans.models import MESSAGING, AuditEvent, Plan, PlanTransition
from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, bearer, login
from tests.integration.plans.conftest import (
    ADULT_CODE,
    MINOR_CODE,
    OTHER_MINOR_CODE,
    file_application,
    make_student,
    send_as,
)
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration

SEMESTER = "2026/2027-1"


@pytest.fixture()
def school(plans_world, plans_runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A municipality with a school, its staff, and a minor student."""
    t = plans_world.tenant("municipality")
    return {
        "tenant": t,
        "preparer": plans_world.staff(t, "plan_preparer", "teacher"),
        "director": plans_world.staff(t, "director"),
        "coordinator": plans_world.staff(t, "municipality_coordinator"),
        "student": make_student(plans_runtime, t, MINOR_CODE, "2012-03-14", grade=7),
    }


def outbox(runtime: Any, name: str | None = None) -> list[Any]:
    t = MESSAGING.outbox
    with runtime.db.session() as s:
        q = select(t).order_by(t.c.created_at)
        if name:
            q = q.where(t.c.task_name == name)
        return list(s.execute(q).all())


def ready_plan(
    c: Any,
    school: dict[str, Any],
    student: str | None = None,
    semester: str = SEMESTER,
    signer: str = "parent",
    file: Any = None,
    **create: Any,
) -> dict[str, Any]:
    """A draft with an economic and a learning risk, a consultation, a compensation, the application uploaded.

    `file(plan, signer)` puts the application on file; by default its message arrives as documents sends it."""
    h = school["preparer"]["headers"]
    plan = c.post(
        "/plans",
        headers=h,
        json={"student_id": student or school["student"], "semester": semester, "preparation_hours": "4", **create},
    )
    assert plan.status_code == 201, plan.json
    pid = plan.json["id"]
    econ = c.post(
        f"/plans/{pid}/risks",
        headers=h,
        json={"category": "economic", "justification": "Garš ceļš uz skolu, nav naudas biļetēm"},
    )
    learn = c.post(f"/plans/{pid}/risks", headers=h, json={"category": "learning", "justification": "Daudz kavējumu"})
    assert econ.status_code == learn.status_code == 201
    m1 = c.post(
        f"/plans/{pid}/measures",
        headers=h,
        json={
            "kind": "consultation",
            "provider_type": "psychologist",
            "planned_hours": "10",
            "risk_ids": [learn.json["id"]],
        },
    )
    m2 = c.post(
        f"/plans/{pid}/measures",
        headers=h,
        json={
            "kind": "compensation",
            "category": "public_transport",
            "planned_amount": "50.00",
            "risk_ids": [econ.json["id"]],
        },
    )
    assert m1.status_code == m2.status_code == 201, (m1.json, m2.json)
    if file is None:
        file_application(c.application.extensions["runtime"], plan.json, signer)
    else:
        file(plan.json, signer)
    return c.get(f"/plans/{pid}", headers=h).json  # type: ignore[no-any-return]


def act(c: Any, pid: str, action: str, user: dict[str, Any], comment: str | None = None) -> Any:
    return c.post(f"/plans/{pid}/{action}", headers=user["headers"], json={"comment": comment} if comment else {})


def admin_headers(client: Any) -> dict[str, str]:
    return bearer(login(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])


def test_a_municipal_plan_goes_director_then_municipality_then_ikvd(plans_client, school, client, plans_runtime):
    c = plans_client
    plan = ready_plan(c, school)
    pid = plan["id"]
    # 10 h × 30.00 (psychologist) + 50.00 compensation + 4 h × 20.00 preparation, from the settings
    assert Decimal(plan["planned_financing"]) == Decimal("430.00")

    submitted = act(c, pid, "submit", school["preparer"])
    assert submitted.status_code == 200, submitted.json
    assert (submitted.json["status"], submitted.json["pending_level"]) == ("in_approval", "director")
    # the municipality cannot jump the queue
    early = act(c, pid, "approve", school["coordinator"])
    assert early.status_code == 409 and early.json["code"] == "not_pending_at_your_level"

    assert act(c, pid, "approve", school["director"]).json["pending_level"] == "municipality"
    waiting = c.get("/plans?awaiting_me=true", headers=school["coordinator"]["headers"]).json
    assert [p["id"] for p in waiting["items"]] == [pid]
    # a list shows a summary; the plan itself has the risks and measures
    [summary] = waiting["items"]
    detail = c.get(f"/plans/{pid}", headers=school["coordinator"]["headers"]).json
    assert "risks" not in summary and "measures" not in summary
    assert detail["risks"] and detail["measures"]
    assert summary["risk_categories"] == sorted({r["category"] for r in detail["risks"]})
    assert summary["measure_count"] == len(detail["measures"])
    assert act(c, pid, "approve", school["coordinator"]).json["pending_level"] == "ikvd"
    final = act(c, pid, "approve", {"headers": admin_headers(client)})
    assert final.status_code == 200 and final.json["status"] == "approved" and final.json["pending_level"] is None
    assert [(t["action"], t["to_status"], t["level"]) for t in final.json["transitions"]] == [
        ("submit", "in_approval", None),
        ("approve", "in_approval", "director"),
        ("approve", "in_approval", "municipality"),
        ("approve", "approved", "ikvd"),
    ]

    levels = [r.payload["level"] for r in outbox(plans_runtime, "notifications.plan_awaiting_approval")]
    assert levels == ["director", "municipality", "ikvd"]
    [approved] = outbox(plans_runtime, "notifications.plan_approved")
    assert approved.payload["preparer_id"] == school["preparer"]["id"]
    # the decision carries its transition's time and the semester, so notifications can order and place it
    final_at = datetime.fromisoformat(final.json["transitions"][-1]["at"])
    assert datetime.fromisoformat(approved.payload["decided_at"]) == final_at
    assert approved.payload["semester"] == SEMESTER
    waits = outbox(plans_runtime, "notifications.plan_awaiting_approval")
    assert datetime.fromisoformat(waits[-1].payload["since"]) == datetime.fromisoformat(
        final.json["transitions"][-2]["at"]
    )
    snapshots = outbox(plans_runtime, "finance.sync_plan")
    assert snapshots[-1].payload["status"] == "approved" and snapshots[-1].payload["planned_financing"] == "430.00"
    assert len(snapshots[-1].payload["student_key"]) == 64
    text = json.dumps([r.payload for r in outbox(plans_runtime)])
    assert MINOR_CODE.replace("-", "") not in text and MINOR_CODE not in text
    wait_for(lambda: all(r.sent_at for r in outbox(plans_runtime)), message="every message relayed")
    # each step is audited: who, the plan, its tenant, from and to
    with plans_runtime.db.session() as s:
        steps = s.execute(
            select(AuditEvent)
            .where(AuditEvent.target_id == pid, AuditEvent.action.in_(["plan.submit", "plan.approve"]))
            .order_by(AuditEvent.id)
        ).scalars()
        audited = [(a.action, str(a.actor_id), a.details["to_status"], a.details.get("level")) for a in steps]
    admin_id = final.json["transitions"][-1]["actor_id"]
    assert audited == [
        ("plan.submit", school["preparer"]["id"], "in_approval", None),
        ("plan.approve", school["director"]["id"], "in_approval", "director"),
        ("plan.approve", school["coordinator"]["id"], "in_approval", "municipality"),
        ("plan.approve", admin_id, "approved", "ikvd"),
    ]


def test_a_vocational_plan_goes_director_then_ikvd(plans_client, plans_world, plans_runtime, client):
    t = plans_world.tenant("vocational_school")
    school = {
        "tenant": t,
        "preparer": plans_world.staff(t, "plan_preparer", "teacher"),
        "director": plans_world.staff(t, "director"),
        "student": make_student(plans_runtime, t, ADULT_CODE, "1990-01-01", grade=None, course=2),
    }
    c = plans_client
    plan = ready_plan(c, school, semester=SEMESTER)  # a parent's signature: an adult signs her own
    pid = plan["id"]
    assert plan["application_on_file"] is False
    wrong = act(c, pid, "submit", school["preparer"])
    assert wrong.status_code == 409 and wrong.json["code"] == "application_missing"
    assert file_application(plans_runtime, plan, "student", version=2) == "accepted"  # a new version, signed right
    assert act(c, pid, "submit", school["preparer"]).json["pending_level"] == "director"
    assert act(c, pid, "approve", school["director"]).json["pending_level"] == "ikvd"
    assert act(c, pid, "approve", {"headers": admin_headers(client)}).json["status"] == "approved"


def test_submit_refusals_name_their_rule(plans_client, school, plans_world, plans_runtime):
    c, h = plans_client, school["preparer"]["headers"]
    empty = c.post("/plans", headers=h, json={"student_id": school["student"], "semester": SEMESTER}).json
    assert act(c, empty["id"], "submit", school["preparer"]).json["code"] == "plan_incomplete"
    # born 15.05.2008: an adult by now, so a guardian's signature is not the right one
    # born 15.05.2008: a minor when the plan was first dated, an adult at the date it is changed to
    adult = make_student(plans_runtime, school["tenant"], OTHER_MINOR_CODE, "2008-05-15", grade=12)
    plan = ready_plan(c, school, student=adult, signer="guardian", prepared_on="2026-05-01")
    assert plan["application_on_file"] is True and plan["application_signer"] == "guardian"
    c.patch(f"/plans/{plan['id']}", headers=h, json={"prepared_on": "2026-09-01"})
    assert act(c, plan["id"], "submit", school["preparer"]).json["code"] == "application_signer_wrong"
    assert file_application(plans_runtime, plan, "student", version=2) == "accepted"
    not_teacher = plans_world.staff(school["tenant"], "plan_preparer")
    c.patch(f"/plans/{plan['id']}", headers=h, json={"preparer_id": not_teacher["id"]})
    refused = act(c, plan["id"], "submit", school["preparer"])
    assert refused.status_code == 409 and refused.json["code"] == "preparer_not_teacher"
    assert refused.mimetype == "application/problem+json" and refused.json["detail_lv"]
    with plans_runtime.db.session() as s:
        assert s.get(Plan, plan["id"]).status == "draft"
        assert s.execute(select(func.count()).select_from(PlanTransition)).scalar_one() == 0


def test_missing_application_and_cap_and_measure_rules(plans_client, school):
    c, h = plans_client, school["preparer"]["headers"]
    plan = c.post("/plans", headers=h, json={"student_id": school["student"], "semester": SEMESTER}).json
    pid = plan["id"]
    risk = c.post(f"/plans/{pid}/risks", headers=h, json={"category": "family", "justification": "Ģimenes apstākļi"})
    comp = c.post(
        f"/plans/{pid}/measures",
        headers=h,
        json={"kind": "compensation", "category": "meals", "planned_amount": "30", "risk_ids": [risk.json["id"]]},
    )
    assert comp.status_code == 422 and comp.json["code"] == "compensation_needs_economic_risk"
    bad_shape = c.post(
        f"/plans/{pid}/measures",
        headers=h,
        json={"kind": "consultation", "category": "meals", "risk_ids": [risk.json["id"]]},
    )
    assert bad_shape.status_code == 422 and set(bad_shape.json["errors"]) >= {
        "provider_type",
        "planned_hours",
        "category",
    }
    over = c.patch(f"/plans/{pid}", headers=h, json={"preparation_hours": "7"})
    assert over.status_code == 422 and over.json["code"] == "preparation_hours_over_cap"
    c.post(
        f"/plans/{pid}/measures",
        headers=h,
        json={"kind": "consultation", "provider_type": "teacher", "planned_hours": "5", "risk_ids": [risk.json["id"]]},
    )
    missing = act(c, pid, "submit", school["preparer"])
    assert missing.status_code == 409 and missing.json["code"] == "application_missing"
    twice = c.post("/plans", headers=h, json={"student_id": school["student"], "semester": SEMESTER})
    assert twice.status_code == 409 and twice.json["code"] == "plan_exists"


def test_send_back_review_and_reapproval_at_every_level(plans_client, school, client, plans_runtime):
    c = plans_client
    pid = ready_plan(c, school)["id"]
    act(c, pid, "submit", school["preparer"])
    no_comment = act(c, pid, "send-back", school["director"])
    assert no_comment.status_code == 409 and no_comment.json["code"] == "comment_required"
    back = act(c, pid, "send-back", school["director"], "Precizējiet riska pamatojumu")
    assert back.json["status"] == "under_review"
    [returned] = outbox(plans_runtime, "notifications.plan_returned")
    assert returned.payload["comment"] == "Precizējiet riska pamatojumu"
    sent_back_at = datetime.fromisoformat(back.json["transitions"][-1]["at"])
    assert datetime.fromisoformat(returned.payload["decided_at"]) == sent_back_at
    assert returned.payload["preparer_id"] == school["preparer"]["id"]
    for user in ("preparer", "director", "coordinator"):
        step = act(c, pid, "submit" if user == "preparer" else "approve", school[user])
        assert step.status_code == 200, step.json
    assert act(c, pid, "approve", {"headers": admin_headers(client)}).json["status"] == "approved"
    review = act(c, pid, "review", school["director"])
    assert review.json["status"] == "under_review"
    again = act(c, pid, "submit", school["preparer"])
    assert again.json["pending_level"] == "director"  # every level approves again


def test_suspend_resume_and_delete_rules(plans_client, school, plans_runtime):
    c = plans_client
    pid = ready_plan(c, school)["id"]
    act(c, pid, "submit", school["preparer"])
    assert act(c, pid, "suspend", school["director"]).json["code"] == "reason_required"
    assert act(c, pid, "suspend", school["preparer"], "x").status_code == 403  # directors suspend
    suspended = act(c, pid, "suspend", school["director"], "Izglītojamais slimo")
    assert suspended.json["status"] == "suspended" and suspended.json["suspended_reason"] == "Izglītojamais slimo"
    assert act(c, pid, "resume", school["director"]).json["status"] == "under_review"

    later = ready_plan(c, school, semester="2026/2027-2")  # a semester that has not started
    act(c, later["id"], "submit", school["preparer"])
    act(c, later["id"], "suspend", school["director"], "Pārcēlies")
    outside = act(c, later["id"], "resume", school["director"])
    assert outside.status_code == 409 and outside.json["code"] == "semester_over"

    send_as(plans_runtime, "plans.plan_paid", {"plan_id": pid, "paid_so_far": "80.00", "revision": 1})

    def paid() -> bool:
        with plans_runtime.db.session() as s:
            return s.get(Plan, pid).paid_so_far == Decimal("80.00")

    wait_for(paid, message="finance's payment in plans")
    refused = act(c, pid, "delete", school["director"])
    assert refused.status_code == 409 and refused.json["code"] == "plan_has_payments"
    assert act(c, later["id"], "delete", school["director"]).json["status"] == "inactive"
    # the deleted plan no longer holds the student's place in that semester
    assert (
        c.post(
            "/plans",
            headers=school["preparer"]["headers"],
            json={"student_id": school["student"], "semester": "2026/2027-2"},
        ).status_code
        == 201
    )


def test_other_tenants_and_read_only_roles(plans_client, school, plans_world):
    c = plans_client
    pid = ready_plan(c, school)["id"]
    other = plans_world.tenant("municipality", region="latgale")
    stranger = plans_world.staff(other, "director")
    assert c.get(f"/plans/{pid}", headers=stranger["headers"]).status_code == 404
    assert act(c, pid, "approve", stranger).status_code == 404
    assert c.get("/plans", headers=stranger["headers"]).json["total"] == 0
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    assert c.get(f"/plans/{pid}", headers=regional["headers"]).status_code == 200
    assert c.get("/plans", headers=regional["headers"]).json["total"] == 1
    assert act(c, pid, "submit", regional).status_code == 403
    auditor = plans_world.user(school["tenant"], {"role": "auditor", "tenant_id": school["tenant"]["id"]})
    assert c.get(f"/plans/{pid}", headers=auditor["headers"]).status_code == 200
    assert c.patch(f"/plans/{pid}", headers=auditor["headers"], json={"preparation_hours": "1"}).status_code == 403
    assert c.post(f"/plans/{pid}/submit", json={}).status_code == 401


def test_messages_leave_once_after_commit_and_refusals_send_nothing(plans_client, school, plans_runtime, redis_url):
    r = redis.Redis.from_url(redis_url)
    r.delete("finance", "notifications")
    c = plans_client
    pid = ready_plan(c, school)["id"]
    before = len(outbox(plans_runtime))
    assert act(c, pid, "approve", school["director"]).status_code == 409  # not submitted: refused
    assert len(outbox(plans_runtime)) == before
    act(c, pid, "submit", school["preparer"])
    wait_for(lambda: all(row.sent_at for row in outbox(plans_runtime)), message="relayed")
    queued = [json.loads(raw)["headers"]["task"] for raw in r.lrange("notifications", 0, -1)]
    assert queued.count("notifications.plan_awaiting_approval") == 1
    finance_ids = [json.loads(raw)["headers"]["id"] for raw in r.lrange("finance", 0, -1)]
    assert len(finance_ids) == len(set(finance_ids)) == len(outbox(plans_runtime, "finance.sync_plan"))
