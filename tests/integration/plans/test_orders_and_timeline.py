"""Director's orders, the semester evaluation and each student's timeline, through plans' HTTP API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import select

from services.plans.models import MESSAGING, AuditEvent, SchoolRM, TimelineEvent
from tests.integration.plans.conftest import OTHER_MINOR_CODE, make_student, send_as
from tests.integration.plans.test_delivery import (
    agree,
    approved_plan,
    consult,
    count,
    in_progress_plan,
    make_site,
    measure_of,
    refused,
)
from tests.integration.plans.test_plan_lifecycle import act, outbox, ready_plan
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture()
def site(plans_world, plans_runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return make_site(plans_world, plans_runtime)


def order_body(site: dict[str, Any], plan_ids: list[str], **kw: Any) -> dict[str, Any]:
    return {
        "school_id": site["tenant"]["school"],
        "kind": "remote_consultations",
        "number": "1-8/20",
        "issued_on": "2026-09-28",
        "valid_from": "2026-10-01",
        "valid_to": "2026-12-22",
        "platform": "Zoom",
        "confirmation_method": "Apstiprinājums e-klasē",
        "plan_ids": plan_ids,
        "providers": [{"provider_id": site["provider"]["id"], "subject": "Sociālais pedagogs"}],
        **kw,
    }


def test_the_director_registers_an_order_and_the_region_is_told(plans_client, site, plans_world, plans_runtime, client):
    c = plans_client
    pid = approved_plan(c, site, client)["id"]
    h = site["director"]["headers"]

    t = site["tenant"]
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    auditor = plans_world.user(t, {"role": "auditor", "tenant_id": t["id"]})
    other = plans_world.tenant("municipality", region="latgale")
    stranger = plans_world.staff(other, "director")
    other_plan = ready_plan(
        c,
        {
            "preparer": plans_world.staff(other, "plan_preparer", "teacher"),
            "student": make_student(plans_runtime, other, OTHER_MINOR_CODE, "2008-05-15", grade=12),
        },
    )["id"]
    before = len(outbox(plans_runtime))

    for who in (site["school_coordinator"], site["preparer"], regional, auditor):
        refused(c.post("/orders", headers=who["headers"], json=order_body(site, [pid])), 403, "forbidden")
    refused(c.post("/orders", headers=stranger["headers"], json=order_body(site, [pid])), 404, "not_found")
    foreign = c.post("/orders", headers=h, json=order_body(site, [pid, other_plan]))
    refused(foreign, 422, "plan_not_of_school")
    assert foreign.json["errors"] == {"plan_ids": {"1": ["not a plan of this school"]}}
    not_provider = order_body(site, [pid], providers=[{"provider_id": site["preparer"]["id"], "subject": "x"}])
    refused(c.post("/orders", headers=h, json=not_provider), 422, "provider_not_support_provider")
    backwards = order_body(site, [pid], valid_from="2026-11-01", valid_to="2026-10-01")
    refused(c.post("/orders", headers=h, json=backwards), 422, "period_invalid")
    vague = c.post("/orders", headers=h, json=order_body(site, [pid], platform=None, providers=[]))
    refused(vague, 422, "invalid_input")
    assert set(vague.json["errors"]) == {"platform", "providers"}
    assert len(outbox(plans_runtime)) == before

    made = c.post("/orders", headers=h, json=order_body(site, [pid]))
    assert made.status_code == 201, made.json
    order = made.json
    [student] = order["students"]
    assert (student["plan_id"], student["first_name"], student["last_name"], student["grade"]) == (
        pid,
        "Līga",
        "Kalniņa",
        7,
    )
    assert student["plan_code"].startswith("IAP-")
    assert order["providers"] == [
        {"provider_id": site["provider"]["id"], "full_name": "Test User", "subject": "Sociālais pedagogs"}
    ]
    [note] = outbox(plans_runtime, "notifications.order_registered")
    assert note.payload == {
        "order_id": order["id"],
        "tenant_id": t["id"],
        "school_id": t["school"],
        "region": "kurzeme",
        "kind": "remote_consultations",
        "number": "1-8/20",
        "issued_on": "2026-09-28",
        "valid_from": "2026-10-01",
        "valid_to": "2026-12-22",
        "student_count": 1,
        "provider_count": 1,
    }
    wait_for(lambda: all(r.sent_at for r in outbox(plans_runtime)), message="relayed")

    again = c.post("/orders", headers=h, json=order_body(site, [pid]))
    refused(again, 409, "order_number_exists")
    assert len(outbox(plans_runtime, "notifications.order_registered")) == 1
    # the number is unique per school: another school of the tenant may use it
    second_school = plans_world.world.school(t)
    plans_world._wait(SchoolRM, second_school)
    director2 = plans_world.staff(t, "director", school=second_school)
    provider2 = plans_world.staff(t, "support_provider", school=second_school)
    student2 = make_student(plans_runtime, t, OTHER_MINOR_CODE, "2008-05-15", grade=12, school=second_school)
    plan2 = c.post(
        "/plans",
        headers=plans_world.staff(t, "plan_preparer", "teacher", school=second_school)["headers"],
        json={"student_id": student2, "semester": "2026/2027-1"},
    ).json["id"]
    providers2 = [{"provider_id": provider2["id"], "subject": "Logopēds"}]
    cross_school = order_body(site, [plan2], school_id=second_school, providers=providers2)
    refused(c.post("/orders", headers=h, json=cross_school), 404, "not_found")  # a school they cannot see
    assert c.post("/orders", headers=director2["headers"], json=cross_school).status_code == 201

    got = c.get(f"/orders/{order['id']}", headers=regional["headers"])
    assert got.status_code == 200 and got.json == order
    mine = c.get(f"/orders?school_id={t['school']}&kind=remote_consultations", headers=auditor["headers"]).json
    assert [o["id"] for o in mine["items"]] == [order["id"]]
    assert c.get("/orders?kind=practice_placement", headers=h).json["total"] == 0
    assert c.get("/orders", headers=regional["headers"]).json["total"] == 2
    assert c.get("/orders?covers=2026-09-30", headers=regional["headers"]).json["total"] == 0
    refused(c.get(f"/orders/{order['id']}", headers=stranger["headers"]), 404, "not_found")
    assert c.get("/orders", headers=stranger["headers"]).json["total"] == 0

    events = c.get(f"/students/{site['student']}/timeline?kind=order_registered", headers=h).json
    assert [e["details"]["number"] for e in events["items"]] == ["1-8/20"]
    assert count(plans_runtime, AuditEvent, AuditEvent.action == "order.registered") == 2


def test_the_semester_evaluation_is_written_by_the_preparer_and_recorded(
    plans_client, site, plans_world, plans_runtime, client
):
    c = plans_client
    pid = in_progress_plan(c, site, client)["id"]
    body = {"outcome": "partly_met", "text": "Kavējumu skaits samazinājies, mācību rezultāti uzlabojušies."}
    refused(c.get(f"/plans/{pid}/evaluation", headers=site["preparer"]["headers"]), 404, "not_found")
    t = site["tenant"]
    teacher = plans_world.staff(t, "teacher")
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    auditor = plans_world.user(t, {"role": "auditor", "tenant_id": t["id"]})
    for who in (site["provider"], site["director"], teacher, regional, auditor):
        refused(c.put(f"/plans/{pid}/evaluation", headers=who["headers"], json=body), 403, "forbidden")
    bad = c.put(f"/plans/{pid}/evaluation", headers=site["preparer"]["headers"], json={**body, "outcome": "great"})
    refused(bad, 422, "invalid_input")

    written = c.put(f"/plans/{pid}/evaluation", headers=site["preparer"]["headers"], json=body)
    assert written.status_code == 200, written.json
    assert (written.json["outcome"], written.json["written_by"]) == ("partly_met", site["preparer"]["id"])
    colleague = plans_world.staff(t, "plan_preparer")
    rewritten = c.put(f"/plans/{pid}/evaluation", headers=colleague["headers"], json={**body, "outcome": "goals_met"})
    assert rewritten.status_code == 200 and rewritten.json["written_by"] == colleague["id"]
    read = c.get(f"/plans/{pid}/evaluation", headers=regional["headers"])
    assert read.status_code == 200 and read.json["outcome"] == "goals_met"
    events = c.get(f"/students/{site['student']}/timeline?kind=evaluation_written", headers=auditor["headers"]).json
    assert [e["details"]["outcome"] for e in events["items"]] == ["goals_met", "partly_met"]
    assert count(plans_runtime, AuditEvent, AuditEvent.action.in_(["evaluation.written", "evaluation.rewritten"])) == 2

    draft = c.post(
        "/plans",
        headers=site["preparer"]["headers"],
        json={"student_id": site["student"], "semester": "2026/2027-2"},
    ).json
    refused(
        c.put(f"/plans/{draft['id']}/evaluation", headers=site["preparer"]["headers"], json=body),
        409,
        "plan_not_evaluable",
    )
    stranger = plans_world.staff(plans_world.tenant("municipality", region="latgale"), "plan_preparer", "teacher")
    refused(c.put(f"/plans/{pid}/evaluation", headers=stranger["headers"], json=body), 404, "not_found")


def test_writing_the_evaluation_tells_notifications_once_after_commit(
    plans_client, site, plans_world, plans_runtime, client, redis_url
):
    c = plans_client
    pid = in_progress_plan(c, site, client)["id"]
    r = redis.Redis.from_url(redis_url)
    r.delete("notifications")
    body = {"outcome": "goals_met", "text": "Mērķi sasniegti."}
    before = len(outbox(plans_runtime))
    refused(c.put(f"/plans/{pid}/evaluation", headers=site["director"]["headers"], json=body), 403, "forbidden")
    assert len(outbox(plans_runtime)) == before  # a refusal writes no message

    written = c.put(f"/plans/{pid}/evaluation", headers=site["preparer"]["headers"], json=body)
    assert written.status_code == 200, written.json
    [note] = outbox(plans_runtime, "notifications.evaluation_written")
    assert {k: v for k, v in note.payload.items() if k != "written_at"} == {
        "plan_id": pid,
        "tenant_id": site["tenant"]["id"],
        "school_id": site["tenant"]["school"],
        "semester": "2026/2027-1",
    }
    assert datetime.fromisoformat(note.payload["written_at"]) == datetime.fromisoformat(written.json["written_at"])
    wait_for(lambda: all(row.sent_at for row in outbox(plans_runtime)), message="relayed")
    queued = [json.loads(raw)["headers"] for raw in r.lrange("notifications", 0, -1)]
    assert [h["id"] for h in queued if h["task"] == "notifications.evaluation_written"] == [str(note.id)]


def test_the_timeline_shows_a_students_events_newest_first_and_reported_ones_once(
    plans_client, site, plans_world, plans_runtime, client
):
    c = plans_client
    plan = in_progress_plan(c, site, client)
    pid = plan["id"]
    assert consult(c, pid, measure_of(plan), site["provider"]).status_code == 201
    h = site["school_coordinator"]["headers"]

    page = c.get(f"/students/{site['student']}/timeline", headers=h)
    assert page.status_code == 200, page.json
    items = page.json["items"]
    assert [e["kind"] for e in items[:3]] == ["consultation_recorded", "plan_start", "agreement_signed"]
    assert items[-1]["kind"] == "plan_created"
    assert [e["at"] for e in items] == sorted((e["at"] for e in items), reverse=True)
    assert {e["source"] for e in items} == {"plans"}
    total = page.json["total"]
    assert total == len(items) >= 8  # created, submitted, three approvals, agreement, start, consultation
    first, second = (
        c.get(f"/students/{site['student']}/timeline?page={n}&page_size=2", headers=h).json for n in (1, 2)
    )
    assert [e["id"] for e in first["items"] + second["items"]] == [e["id"] for e in items[:4]]
    assert first["total"] == total
    approvals = c.get(f"/students/{site['student']}/timeline?kind=plan_approve&plan_id={pid}", headers=h).json
    assert [e["details"]["level"] for e in approvals["items"]] == ["ikvd", "municipality", "director"]
    other_plan = c.get(f"/students/{site['student']}/timeline?plan_id={uuid.uuid4()}", headers=h).json
    assert other_plan["total"] == 0

    # a document service reports an event twice with the same key: it shows once
    event = {
        "tenant_id": site["tenant"]["id"],
        "student_id": site["student"],
        "plan_id": pid,
        "at": (datetime.now(UTC) + timedelta(seconds=5)).isoformat(),
        "source": "documents",
        "key": "document-accepted:42",
        "kind": "document_accepted",
        "summary_lv": "Dokuments pieņemts",
        "summary_en": "Document accepted",
        "details": {"document_id": "42"},
    }
    ids = [send_as(plans_runtime, "plans.record_student_event", event) for _ in range(2)]
    processed = MESSAGING.processed

    def both_handled() -> bool:
        with plans_runtime.db.session() as s:
            done = s.execute(select(processed.c.message_id).where(processed.c.message_id.in_(ids))).all()
            return len(done) == 2

    wait_for(both_handled, message="both reports handled")
    newest = c.get(f"/students/{site['student']}/timeline", headers=h).json
    assert newest["total"] == total + 1
    assert (newest["items"][0]["source"], newest["items"][0]["kind"]) == ("documents", "document_accepted")
    assert count(plans_runtime, TimelineEvent, TimelineEvent.source_key == "document-accepted:42") == 1
    reported = c.get(f"/students/{site['student']}/timeline?source=documents", headers=h).json
    assert reported["total"] == 1 and reported["items"][0]["details"] == {"document_id": "42"}

    # readable by whoever reads the student; nobody else learns it exists
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    assert c.get(f"/students/{site['student']}/timeline", headers=regional["headers"]).json["total"] == total + 1
    stranger = plans_world.staff(plans_world.tenant("municipality", region="latgale"), "school_coordinator")
    latgale = plans_world.user(None, {"role": "regional_coordinator", "region": "latgale"})
    for who in (stranger, latgale):
        refused(c.get(f"/students/{site['student']}/timeline", headers=who["headers"]), 404, "not_found")
    refused(c.get(f"/students/{uuid.uuid4()}/timeline", headers=h), 404, "not_found")
    bad = c.get(f"/students/{site['student']}/timeline?page_size=0", headers=h)
    refused(bad, 422, "invalid_input")


def test_every_delivery_record_leaves_a_timeline_event_and_an_audit_record(plans_client, site, plans_runtime, client):
    c = plans_client
    plan = approved_plan(c, site, client)
    pid = plan["id"]
    assert agree(c, pid, measure_of(plan), site["provider"], site["director"]).status_code == 201
    assert consult(c, pid, measure_of(plan), site["provider"]).status_code == 201
    assert c.post("/orders", headers=site["director"]["headers"], json=order_body(site, [pid])).status_code == 201
    assert (
        c.put(
            f"/plans/{pid}/evaluation",
            headers=site["preparer"]["headers"],
            json={"outcome": "not_met", "text": "Izglītojamais pārcēlās uz citu skolu."},
        ).status_code
        == 200
    )
    assert act(c, pid, "suspend", site["director"], "Pārcēlies").json["status"] == "suspended"
    with plans_runtime.db.session() as s:
        events = s.execute(
            select(TimelineEvent.kind, TimelineEvent.source, TimelineEvent.source_key).where(
                TimelineEvent.plan_id == pid
            )
        ).all()
        audits = {a for (a,) in s.execute(select(AuditEvent.action))}
    kinds = {k for k, _, _ in events}
    assert {"agreement_signed", "consultation_recorded", "order_registered", "evaluation_written"} <= kinds
    assert {src for _, src, _ in events} == {"plans"}
    assert len({key for _, _, key in events}) == len(events)
    assert {"agreement.recorded", "consultation.recorded", "order.registered", "evaluation.written"} <= audits
