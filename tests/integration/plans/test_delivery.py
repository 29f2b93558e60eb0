"""Agreements and consultations (the KA form) through plans' HTTP API, on real servers and a real worker."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from services.plans.delivery_rules import riga_today
from services.plans.models import AuditEvent, Plan, PlanTransition, TimelineEvent
from tests.integration.plans.conftest import MINOR_CODE, file_application, make_student
from tests.integration.plans.test_plan_lifecycle import SEMESTER, act, admin_headers, outbox, ready_plan
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def make_site(plans_world: Any, plans_runtime: Any, region: str = "kurzeme") -> dict[str, Any]:
    """A municipality with a school, the staff delivery needs, two providers and a minor student."""
    t = plans_world.tenant("municipality", region=region)
    return {
        "tenant": t,
        "preparer": plans_world.staff(t, "plan_preparer", "teacher"),
        "director": plans_world.staff(t, "director"),
        "coordinator": plans_world.staff(t, "municipality_coordinator"),
        "school_coordinator": plans_world.staff(t, "school_coordinator"),
        "provider": plans_world.staff(t, "support_provider"),
        "provider2": plans_world.staff(t, "support_provider"),
        "student": make_student(plans_runtime, t, MINOR_CODE, "2012-03-14", grade=7),
    }


@pytest.fixture()
def site(plans_world, plans_runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return make_site(plans_world, plans_runtime)


def approved_plan(c: Any, site: dict[str, Any], client: Any, student: str | None = None) -> dict[str, Any]:
    """A plan (a 10 h psychologist consultation and a compensation) approved at every level."""
    pid = ready_plan(c, site, student)["id"]
    assert act(c, pid, "submit", site["preparer"]).status_code == 200
    for who in ("director", "coordinator"):
        assert act(c, pid, "approve", site[who]).status_code == 200
    final = act(c, pid, "approve", {"headers": admin_headers(client)})
    assert final.json["status"] == "approved", final.json
    return final.json  # type: ignore[no-any-return]


def measure_of(plan: dict[str, Any], kind: str = "consultation") -> str:
    return next(m["id"] for m in plan["measures"] if m["kind"] == kind)


def agree(c: Any, pid: str, measure: str, provider: dict[str, Any], by: dict[str, Any], on: str = "2026-09-10") -> Any:
    return c.post(
        f"/plans/{pid}/agreements",
        headers=by["headers"],
        json={"measure_id": measure, "provider_id": provider["id"], "signed_on": on},
    )


def in_progress_plan(c: Any, site: dict[str, Any], client: Any, student: str | None = None) -> dict[str, Any]:
    plan = approved_plan(c, site, client, student)
    assert agree(c, plan["id"], measure_of(plan), site["provider"], site["provider"]).status_code == 201
    return plan


def consult(
    c: Any, pid: str, measure: str, provider: dict[str, Any], by: dict[str, Any] | None = None, **kw: Any
) -> Any:
    body = {
        "measure_id": measure,
        "provider_id": provider["id"],
        "held_on": "2026-10-05",
        "hours": "1",
        "subject": "Psiholoģiska konsultācija",
        "mode": "in_person",
        **kw,
    }
    return c.post(f"/plans/{pid}/consultations", headers=(by or provider)["headers"], json=body)


def refused(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.json
    assert resp.mimetype == "application/problem+json"
    assert resp.json["code"] == code, resp.json
    assert resp.json.get("detail_lv")


def count(runtime: Any, model: Any, *where: Any) -> int:
    with runtime.db.session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()  # type: ignore[no-any-return]


def test_a_plan_of_compensations_alone_starts_with_the_school_coordinators_agreement(
    plans_client, site, plans_runtime, client
):
    """Issue 13: an agreement needed a consultation, so a plan of a ticket and meals stayed approved for ever."""
    c, h = plans_client, site["preparer"]["headers"]
    plan = c.post("/plans", headers=h, json={"student_id": site["student"], "semester": SEMESTER}).json
    pid = plan["id"]
    risk = c.post(f"/plans/{pid}/risks", headers=h, json={"category": "economic", "justification": "Tāls ceļš"}).json
    for category, amount in (("public_transport", "60.00"), ("meals", "90.00")):
        made = c.post(
            f"/plans/{pid}/measures",
            headers=h,
            json={"kind": "compensation", "category": category, "planned_amount": amount, "risk_ids": [risk["id"]]},
        )
        assert made.status_code == 201, made.json
    file_application(plans_runtime, plan, "parent")
    assert act(c, pid, "submit", site["preparer"]).status_code == 200
    for who in ("director", "coordinator"):
        assert act(c, pid, "approve", site[who]).status_code == 200
    approved = act(c, pid, "approve", {"headers": admin_headers(client)}).json
    assert approved["status"] == "approved"
    ticket = measure_of(approved, "compensation")
    coordinator = site["school_coordinator"]
    refused(agree(c, pid, ticket, site["provider"], coordinator), 422, "provider_not_school_coordinator")
    refused(agree(c, pid, ticket, site["director"], coordinator), 422, "provider_not_school_coordinator")
    refused(consult(c, pid, ticket, site["provider"], coordinator), 422, "measure_not_consultation")

    made = agree(c, pid, ticket, coordinator, coordinator)
    assert made.status_code == 201, made.json
    assert (made.json["measure_kind"], made.json["category"]) == ("compensation", "public_transport")
    assert made.json["provider_id"] == coordinator["id"] and made.json["provider_type"] is None
    started = c.get(f"/plans/{pid}", headers=h).json
    assert started["status"] == "in_progress" and started["transitions"][-1]["action"] == "start"
    # finance learns the plan is in progress, so its compensations can be claimed
    assert outbox(plans_runtime, "finance.sync_plan")[-1].payload["status"] == "in_progress"
    listed = c.get(f"/plans/{pid}/agreements", headers=h).json
    assert [(a["measure_kind"], a["provider_name"]) for a in listed] == [("compensation", "Test User")]


def test_the_first_agreement_starts_the_plan_and_later_ones_change_nothing(
    plans_client, site, plans_world, plans_runtime, client
):
    c = plans_client
    draft = ready_plan(c, site)
    refused(agree(c, draft["id"], measure_of(draft), site["provider"], site["provider"]), 409, "plan_not_approved")
    act(c, draft["id"], "submit", site["preparer"])
    for who in ("director", "coordinator"):
        act(c, draft["id"], "approve", site[who])
    plan = act(c, draft["id"], "approve", {"headers": admin_headers(client)}).json
    pid, measure = plan["id"], measure_of(plan)
    before = len(outbox(plans_runtime))

    refused(  # a compensation's agreement is the school coordinator's, not a provider's
        agree(c, pid, measure_of(plan, "compensation"), site["provider"], site["school_coordinator"]),
        422,
        "provider_not_school_coordinator",
    )
    refused(agree(c, pid, site["student"], site["provider"], site["provider"]), 422, "measure_unknown")
    refused(agree(c, pid, measure, site["preparer"], site["school_coordinator"]), 422, "provider_not_support_provider")
    refused(agree(c, pid, measure, site["provider"], site["provider"], on="2099-01-01"), 409, "signed_in_future")
    # the preparer, another provider, a regional coordinator and an auditor may not record it
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    auditor = plans_world.user(site["tenant"], {"role": "auditor", "tenant_id": site["tenant"]["id"]})
    for who in (site["preparer"], site["provider2"], regional, auditor):
        refused(agree(c, pid, measure, site["provider"], who), 403, "forbidden")
    assert len(outbox(plans_runtime)) == before  # refusals write no messages
    assert count(plans_runtime, PlanTransition, PlanTransition.plan_id == pid, PlanTransition.action == "start") == 0

    first = agree(c, pid, measure, site["provider"], site["provider"])  # the provider themself
    assert first.status_code == 201, first.json
    assert first.json["provider_name"] == "Test User" and first.json["provider_type"] == "psychologist"
    started = c.get(f"/plans/{pid}", headers=site["preparer"]["headers"]).json
    assert started["status"] == "in_progress"
    assert (started["transitions"][-1]["action"], started["transitions"][-1]["from_status"]) == ("start", "approved")
    assert started["transitions"][-1]["actor_id"] == site["provider"]["id"]
    snapshots = outbox(plans_runtime, "finance.sync_plan")
    assert snapshots[-1].payload["status"] == "in_progress" and snapshots[-1].payload["plan_id"] == pid

    refused(agree(c, pid, measure, site["provider"], site["director"]), 409, "agreement_exists")
    second = agree(c, pid, measure, site["provider2"], site["school_coordinator"], on="2026-09-15")
    assert second.status_code == 201, second.json
    assert count(plans_runtime, PlanTransition, PlanTransition.plan_id == pid, PlanTransition.action == "start") == 1
    assert len(outbox(plans_runtime, "finance.sync_plan")) == len(snapshots)  # a later agreement changes no money

    listed = c.get(f"/plans/{pid}/agreements", headers=regional["headers"])
    assert listed.status_code == 200
    assert [(a["provider_id"], a["signed_on"]) for a in listed.json] == [
        (site["provider"]["id"], "2026-09-10"),
        (site["provider2"]["id"], "2026-09-15"),
    ]
    kinds = [
        e["kind"] for e in c.get(f"/students/{site['student']}/timeline", headers=auditor["headers"]).json["items"]
    ]
    assert kinds[:3] == ["agreement_signed", "plan_start", "agreement_signed"]
    assert count(plans_runtime, AuditEvent, AuditEvent.action == "agreement.recorded") == 2
    assert (
        count(plans_runtime, TimelineEvent, TimelineEvent.kind == "agreement_signed", TimelineEvent.source == "plans")
        == 2
    )


def test_consultation_rules_each_refuse_with_their_code_and_send_nothing(
    plans_client, site, plans_world, plans_runtime, client, redis_url
):
    c = plans_client
    plan = approved_plan(c, site, client)
    pid, measure = plan["id"], measure_of(plan)
    p, p2 = site["provider"], site["provider2"]
    refused(consult(c, pid, measure, p), 409, "plan_not_in_progress")
    assert agree(c, pid, measure, p, p).status_code == 201
    before = len(outbox(plans_runtime))

    tomorrow = (riga_today() + timedelta(days=1)).isoformat()
    refused(consult(c, pid, measure, p, held_on=tomorrow), 409, "held_in_future")
    refused(consult(c, pid, measure, p, held_on="2026-08-31"), 409, "outside_semester")
    refused(consult(c, pid, measure, p, held_on="2026-09-09"), 409, "before_agreement")
    refused(consult(c, pid, measure, p2), 409, "no_agreement")
    refused(consult(c, pid, measure_of(plan, "compensation"), p), 422, "measure_not_consultation")
    zero = consult(c, pid, measure, p, hours="0")
    refused(zero, 422, "invalid_input")
    assert "hours" in zero.json["errors"]
    in_person_order = consult(c, pid, measure, p, order_id=pid)
    assert in_person_order.status_code == 422 and "order_id" in in_person_order.json["errors"]
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    for who in (site["preparer"], site["director"], p2, regional):
        refused(consult(c, pid, measure, p, by=who), 403, "forbidden")
    assert len(outbox(plans_runtime)) == before

    r = redis.Redis.from_url(redis_url)
    r.delete("finance")
    six = consult(c, pid, measure, p, held_on="2026-10-01", hours="6")
    assert six.status_code == 201, six.json
    four = consult(c, pid, measure, p, by=site["school_coordinator"], held_on="2026-09-20", hours="4")
    assert four.status_code == 201, four.json
    over = consult(c, pid, measure, p, held_on="2026-10-02", hours="0.5")
    refused(over, 409, "planned_hours_exceeded")
    assert (over.json["planned_hours"], over.json["delivered_hours"]) == ("10.00", "10.00")

    delivered = outbox(plans_runtime, "finance.consultation_delivered")
    assert [row.payload for row in delivered] == [
        {
            "consultation_id": line.json["id"],
            "plan_id": pid,
            "measure_id": measure,
            "tenant_id": site["tenant"]["id"],
            "school_id": site["tenant"]["school"],
            "provider_type": "psychologist",
            "held_on": line.json["held_on"],
            "hours": line.json["hours"],
            "mode": "in_person",
        }
        for line in (six, four)
    ]
    wait_for(lambda: all(row.sent_at for row in outbox(plans_runtime)), message="relayed")
    queued = [json.loads(raw)["headers"] for raw in r.lrange("finance", 0, -1)]
    sent = [h["id"] for h in queued if h["task"] == "finance.consultation_delivered"]
    assert sorted(sent) == sorted(str(row.id) for row in delivered)  # each once, after the commit
    assert count(plans_runtime, AuditEvent, AuditEvent.action == "consultation.recorded") == 2
    assert count(plans_runtime, TimelineEvent, TimelineEvent.kind == "consultation_recorded") == 2

    # the KA form: lines by date with the provider's name, totals per measure
    form = c.get(f"/plans/{pid}/ka-form", headers=site["director"]["headers"])
    assert form.status_code == 200, form.json
    assert [(line["held_on"], line["hours"], line["provider_name"]) for line in form.json["lines"]] == [
        ("2026-09-20", "4.00", "Test User"),
        ("2026-10-01", "6.00", "Test User"),
    ]
    assert form.json["totals"] == [
        {
            "measure_id": measure,
            "provider_type": "psychologist",
            "planned_hours": "10.00",
            "delivered_hours": "10.00",
            "remaining_hours": "0.00",
            "lines": 2,
        }
    ]
    assert form.json["total_hours"] == "10.00" and form.json["plan_code"] == plan["code"]
    assert form.json["student"]["last_name"] == "Kalniņa" and form.json["student"]["grade"] == 7
    listed = c.get(f"/plans/{pid}/consultations?held_from=2026-09-25&page_size=1", headers=p2["headers"]).json
    assert (listed["total"], [i["held_on"] for i in listed["items"]]) == (1, ["2026-10-01"])
    newest = c.get(f"/plans/{pid}/consultations", headers=regional["headers"]).json
    assert [i["held_on"] for i in newest["items"]] == ["2026-10-01", "2026-09-20"]
    assert c.get(f"/plans/{pid}/consultations?mode=remote", headers=p["headers"]).json["total"] == 0


def test_remote_consultations_need_an_order_and_a_confirmation_within_a_day(plans_client, site, plans_runtime, client):
    c = plans_client
    plan = in_progress_plan(c, site, client)
    pid, measure = plan["id"], measure_of(plan)
    p, p2 = site["provider"], site["provider2"]
    refused(consult(c, pid, measure, p, mode="remote", student_confirmed_on="2026-10-06"), 409, "remote_order_missing")
    order = c.post(
        "/orders",
        headers=site["director"]["headers"],
        json={
            "school_id": site["tenant"]["school"],
            "kind": "remote_consultations",
            "number": "1-8/12",
            "issued_on": "2026-09-28",
            "valid_from": "2026-10-01",
            "valid_to": "2026-10-31",
            "platform": "MS Teams",
            "confirmation_method": "E-klases ziņa",
            "plan_ids": [pid],
            "providers": [{"provider_id": p["id"], "subject": "Psihologs"}],
        },
    )
    assert order.status_code == 201, order.json
    oid = order.json["id"]
    placement = c.post(
        "/orders",
        headers=site["director"]["headers"],
        json={
            "school_id": site["tenant"]["school"],
            "kind": "practice_placement",
            "number": "1-8/13",
            "issued_on": "2026-09-28",
            "valid_from": "2026-09-01",
            "valid_to": "2026-12-22",
            "plan_ids": [pid],
        },
    )
    assert placement.status_code == 201, placement.json
    before = len(outbox(plans_runtime))

    def remote(confirmed: str | None, held: str = "2026-10-05", **kw: Any) -> Any:
        return consult(
            c, pid, measure, kw.pop("provider", p), mode="remote", held_on=held, student_confirmed_on=confirmed, **kw
        )

    refused(remote(None), 409, "remote_confirmation_missing")
    refused(remote("2026-10-04"), 409, "remote_confirmation_early")
    late = remote("2026-10-07")  # two days after: refused
    refused(late, 409, "remote_confirmation_late")
    assert late.json["latest"] == "2026-10-06"
    refused(remote("2026-11-03", held="2026-11-02"), 409, "remote_order_missing")  # no order covers that day
    outside = remote("2026-11-03", held="2026-11-02", order_id=oid)
    refused(outside, 409, "remote_order_not_covering")
    assert outside.json["gaps"] == ["period"]
    refused(remote("2026-10-06", order_id=placement.json["id"]), 409, "remote_order_missing")  # not a remote order
    assert agree(c, pid, measure, p2, site["school_coordinator"]).status_code == 201
    not_listed = remote("2026-10-06", provider=p2, order_id=oid)
    refused(not_listed, 409, "remote_order_not_covering")
    assert not_listed.json["gaps"] == ["provider"]
    refused(remote("2026-10-06", provider=p2), 409, "remote_order_missing")
    assert len(outbox(plans_runtime, "finance.consultation_delivered")) == 0

    next_day = remote("2026-10-06")  # one day after: the last day accepted
    assert next_day.status_code == 201, next_day.json
    assert (next_day.json["order_id"], next_day.json["order_number"]) == (oid, "1-8/12")  # found by the rules
    same_day = remote("2026-10-31", held="2026-10-31", order_id=oid)
    assert same_day.status_code == 201, same_day.json
    [first, second] = outbox(plans_runtime, "finance.consultation_delivered")
    assert first.payload["mode"] == second.payload["mode"] == "remote"
    assert len(outbox(plans_runtime)) == before + 2  # only the two lines' messages

    remote_lines = c.get(f"/plans/{pid}/consultations?mode=remote", headers=p["headers"]).json
    assert [(i["held_on"], i["student_confirmed_on"]) for i in remote_lines["items"]] == [
        ("2026-10-31", "2026-10-31"),
        ("2026-10-05", "2026-10-06"),
    ]


def test_other_tenants_see_nothing_and_change_nothing(plans_client, site, plans_world, plans_runtime, client):
    c = plans_client
    plan = in_progress_plan(c, site, client)
    pid, measure = plan["id"], measure_of(plan)
    assert consult(c, pid, measure, site["provider"]).status_code == 201
    other = plans_world.tenant("municipality", region="latgale")
    stranger_coord = plans_world.staff(other, "school_coordinator")
    stranger_provider = plans_world.staff(other, "support_provider", "director")
    for path in ("agreements", "consultations", "ka-form", "evaluation"):
        refused(c.get(f"/plans/{pid}/{path}", headers=stranger_coord["headers"]), 404, "not_found")
    refused(agree(c, pid, measure, stranger_provider, stranger_provider), 404, "not_found")
    refused(consult(c, pid, measure, site["provider"], by=stranger_coord), 404, "not_found")
    latgale = plans_world.user(None, {"role": "regional_coordinator", "region": "latgale"})
    kurzeme = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    refused(c.get(f"/plans/{pid}/ka-form", headers=latgale["headers"]), 404, "not_found")
    assert c.get(f"/plans/{pid}/ka-form", headers=kurzeme["headers"]).status_code == 200
    assert c.get(f"/plans/{pid}/agreements").status_code == 401
    with plans_runtime.db.session() as s:
        assert s.get(Plan, pid).status == "in_progress"
    assert count(plans_runtime, TimelineEvent, TimelineEvent.kind == "consultation_recorded") == 1
