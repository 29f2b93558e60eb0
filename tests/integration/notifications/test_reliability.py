"""Reliability on real parts: SMTP down then up (delivered once), a redelivered message sends nothing
twice, and a delivery that fails past its retries is dead-lettered, visible, and replayable."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from services.notifications.models import InboxItem, Notification
from tests.integration.notifications.conftest import deliveries, mails_to, send_as, settled, staff_grants
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def _returned(cast, tenant, plan: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "plan_id": plan,
        "code": "IAP-9",
        "tenant_id": tenant["id"],
        "school_id": tenant["school"],
        "preparer_id": cast.people["preparer"]["id"],
        "level": "director",
        "comment": None,
        "decided_by": cast.people["preparer"]["id"],
    }


def _about(sink, cast, plan: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [m for m in mails_to(sink, cast.email("preparer")) if m["X-PuMPuRS-Ref"] == f"plan:{plan}"]


def test_smtp_down_then_up_delivers_the_mail_once(cast, notif_runtime, stack, sink_dir):
    a = cast.tenant()
    cast.person("preparer", a, staff_grants(a)["preparer"])
    plan = str(uuid.uuid4())
    stack.stop_server("smtp")
    try:
        send_as(notif_runtime, "notifications.plan_returned", _returned(cast, a, plan))
        retrying = wait_for(
            lambda: [
                d for d in deliveries(notif_runtime, channel="email") if d.status == "retrying" and d.attempts >= 2
            ],
            timeout=30,
            message="two failed attempts while SMTP is down",
        )
        assert "Unavailable" in retrying[0].last_error
        assert _about(sink_dir, cast, plan) == []
    finally:
        stack.start_server("smtp")
    wait_for(lambda: deliveries(notif_runtime, channel="email")[0].status == "sent", timeout=60, message="sent")
    assert len(_about(sink_dir, cast, plan)) == 1
    assert deliveries(notif_runtime, channel="email")[0].attempts >= 3


def test_a_redelivered_message_sends_nothing_twice(cast, notif_runtime, notifications_worker, sink_dir):
    a = cast.tenant()
    cast.person("preparer", a, staff_grants(a)["preparer"])
    plan = str(uuid.uuid4())
    payload = _returned(cast, a, plan)
    skipped = notifications_worker.log_text().count("message_duplicate_skipped")
    mid = send_as(notif_runtime, "notifications.plan_returned", payload)
    send_as(notif_runtime, "notifications.plan_returned", payload, message_id=mid)  # the broker delivers it again
    wait_for(lambda: _about(sink_dir, cast, plan) and settled(notif_runtime), message="the mail")
    wait_for(
        lambda: notifications_worker.log_text().count("message_duplicate_skipped") > skipped,
        message="the second copy seen and skipped",
    )
    (sent,) = deliveries(notif_runtime, channel="email")
    # the delivery task itself delivered again, later: it finds the delivery sent and does nothing
    again = [send_as(notif_runtime, "notifications.deliver_email", {"delivery_id": str(sent.id)}) for _ in range(2)]
    # the same fact again under a new message id (a verdict has a natural key): told once as well
    doc = str(uuid.uuid4())
    verdict = {
        "document_id": doc,
        "version": 1,
        "tenant_id": a["id"],
        "school_id": a["school"],
        "uploaded_by": cast.people["preparer"]["id"],
        "status": "needs_fix",
        "reasons": [],
        "decided_at": "2026-11-02T10:00:00+00:00",
    }
    again += [send_as(notif_runtime, "notifications.document_verdict", verdict) for _ in range(2)]

    def verdict_mails() -> list[Any]:
        return [m for m in mails_to(sink_dir, cast.email("preparer")) if m["X-PuMPuRS-Ref"] == f"document:{doc}"]

    wait_for(lambda: verdict_mails() and settled(notif_runtime), message="the verdict mail")
    wait_for(lambda: _processed(notif_runtime, again) == len(again), message="every copy handled")
    assert len(_about(sink_dir, cast, plan)) == 1 and len(verdict_mails()) == 1
    with notif_runtime.db.session() as s:
        assert s.execute(select(func.count()).select_from(Notification)).scalar_one() == 2
        assert s.execute(select(func.count()).select_from(InboxItem)).scalar_one() == 2
    assert [d.attempts for d in deliveries(notif_runtime, channel="email")] == [1, 1]


def _processed(runtime: Any, message_ids: list[str]) -> int:
    table = runtime.tables.processed
    with runtime.db.session() as s:
        return s.execute(select(func.count()).where(table.c.message_id.in_(message_ids))).scalar_one()


def test_a_mail_failing_past_its_retries_is_dead_lettered_visible_and_replayed_once(
    cast, notif_runtime, notifs, stack, sink_dir
):
    a = cast.tenant()
    cast.person("preparer", a, staff_grants(a)["preparer"])
    admin = cast.person("admin", None, {"role": "platform_admin"})
    plan = str(uuid.uuid4())
    stack.stop_server("smtp")
    try:
        send_as(notif_runtime, "notifications.plan_returned", _returned(cast, a, plan))
        failed = wait_for(
            lambda: [
                d for d in deliveries(notif_runtime, channel="email") if d.status == "failed" and d.dead_letter_id
            ],
            timeout=90,
            message="the delivery dead-lettered",
        )
    finally:
        stack.start_server("smtp")
    (delivery,) = failed
    assert delivery.attempts == 7  # the first try and six retries
    headers = cast.headers("admin")
    listed = notifs.get("/admin/deliveries?status=failed", headers=headers).json
    assert [i["id"] for i in listed["items"]] == [str(delivery.id)]
    assert listed["items"][0]["kind"] == "plan_returned" and listed["items"][0]["dead_letter_id"]
    dead = notifs.get("/admin/dead-letters", headers=headers).json["items"]
    assert [d["task_name"] for d in dead] == ["notifications.deliver_email"]
    assert dead[0]["payload"] == {"delivery_id": str(delivery.id)}
    # the admins are told in their inbox, not by a mail that could fail the same way
    inbox = wait_for(lambda: notifs.get("/inbox", headers=headers).json["items"], message="the admin's inbox item")
    assert inbox[0]["kind"] == "message_dead_lettered" and inbox[0]["ref_id"] == dead[0]["id"]
    assert mails_to(sink_dir, admin["email"]) == []
    assert _about(sink_dir, cast, plan) == []
    # SMTP is back: the admin replays the dead letter and the mail goes out, once
    assert notifs.post(f"/admin/dead-letters/{dead[0]['id']}/replay", headers=headers).status_code == 202
    wait_for(lambda: _about(sink_dir, cast, plan), timeout=30, message="the replayed mail")
    assert deliveries(notif_runtime, channel="email")[0].status == "sent"
    assert (
        notifs.post(f"/admin/dead-letters/{dead[0]['id']}/replay", headers=headers).json["code"] == "already_replayed"
    )
    assert len(_about(sink_dir, cast, plan)) == 1
