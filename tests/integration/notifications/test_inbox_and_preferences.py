"""The in-app inbox (list, unread filter, pages, count, mark read), preferences per kind, and daily
digests built on a frozen clock and sent through the real worker to the SMTP sink."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.notifications import digests
from tests.integration.notifications.conftest import LINKS, deliveries, mails_to, send_as, settled, staff_grants
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration
RIGA = ZoneInfo("Europe/Riga")


@pytest.fixture()
def school(cast) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    a = cast.tenant()
    g = staff_grants(a)
    cast.person("preparer", a, g["preparer"])
    cast.person("director", a, g["director"])
    return a


def _returned(cast, a: dict[str, Any], code: str) -> str:  # type: ignore[no-untyped-def]
    plan = str(uuid.uuid4())
    send_as(
        cast.runtime,
        "notifications.plan_returned",
        {
            "plan_id": plan,
            "code": code,
            "tenant_id": a["id"],
            "school_id": a["school"],
            "preparer_id": cast.people["preparer"]["id"],
            "level": "director",
            "comment": None,
            "decided_by": cast.people["director"]["id"],
        },
    )
    return plan


def _inbox(notifs, cast, who: str, query: str = "") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = notifs.get(f"/inbox{query}", headers=cast.headers(who))
    assert resp.status_code == 200, resp.json
    return resp.json  # type: ignore[no-any-return]


def test_the_inbox_lists_counts_pages_and_marks_read(notifs, cast, school):
    plans = [_returned(cast, school, f"IAP-{n}") for n in range(3)]
    wait_for(lambda: _inbox(notifs, cast, "preparer")["total"] == 3, message="three inbox items")
    first = _inbox(notifs, cast, "preparer", "?page_size=2")
    assert first["total"] == 3 and len(first["items"]) == 2
    second = _inbox(notifs, cast, "preparer", "?page_size=2&page=2")
    assert len(second["items"]) == 1
    items = first["items"] + second["items"]
    assert {i["ref_id"] for i in items} == set(plans) and {i["kind"] for i in items} == {"plan_returned"}
    assert all(i["ref_type"] == "plan" and i["link"] == f"{LINKS}/plans/{i['ref_id']}" for i in items)
    assert items[0]["title_lv"].startswith("Plāns IAP-") and items[0]["title_en"].startswith("Plan IAP-")
    assert notifs.get("/inbox/unread-count", headers=cast.headers("preparer")).json == {"unread": 3}

    read = notifs.post(f"/inbox/{items[0]['id']}/read", headers=cast.headers("preparer"))
    assert read.status_code == 200 and read.json["read_at"]
    again = notifs.post(f"/inbox/{items[0]['id']}/read", headers=cast.headers("preparer"))
    assert again.json["read_at"] == read.json["read_at"]
    assert notifs.get("/inbox/unread-count", headers=cast.headers("preparer")).json == {"unread": 2}
    unread = _inbox(notifs, cast, "preparer", "?unread=true")
    assert unread["total"] == 2 and items[0]["id"] not in {i["id"] for i in unread["items"]}

    # someone else's item is not there for you; your inbox holds only yours
    assert notifs.post(f"/inbox/{items[1]['id']}/read", headers=cast.headers("director")).status_code == 404
    assert _inbox(notifs, cast, "director")["total"] == 0
    assert notifs.post("/inbox/read-all", headers=cast.headers("preparer")).json == {"marked": 2}
    assert notifs.get("/inbox/unread-count", headers=cast.headers("preparer")).json == {"unread": 0}
    assert notifs.get("/inbox").status_code == 401
    assert notifs.get("/inbox?unread=maybe", headers=cast.headers("preparer")).json["code"] == "invalid_input"


def test_preferences_choose_the_channels_per_kind(notifs, cast, school, sink_dir):
    prefs = notifs.get("/preferences", headers=cast.headers("preparer")).json["items"]
    returned = next(p for p in prefs if p["kind"] == "plan_returned")
    assert returned == {
        "kind": "plan_returned",
        "email": True,
        "inbox": True,
        "mode": "immediate",
        "label_lv": "Plāns atgriezts",
        "label_en": "Plan sent back",
    }
    put = notifs.put(
        "/preferences/plan_returned", json={"email": False, "inbox": True}, headers=cast.headers("preparer")
    )
    assert put.status_code == 200 and put.json["email"] is False
    off = notifs.put(
        "/preferences/plan_returned", json={"email": False, "inbox": False}, headers=cast.headers("preparer")
    )
    assert off.status_code == 422 and off.json["code"] == "no_channel"
    unknown = notifs.put("/preferences/lottery", json={"email": True, "inbox": True}, headers=cast.headers("preparer"))
    assert unknown.status_code == 404 and unknown.json["code"] == "unknown_kind"

    plan = _returned(cast, school, "IAP-QUIET")
    wait_for(lambda: _inbox(notifs, cast, "preparer")["total"] == 1 and settled(cast.runtime), message="inbox item")
    assert deliveries(cast.runtime) == []
    assert [m for m in mails_to(sink_dir, cast.email("preparer")) if plan in str(m["X-PuMPuRS-Ref"])] == []


def test_a_daily_digest_gathers_what_a_person_batched_into_one_mail(notifs, cast, school, sink_dir):
    for kind in ("plan_returned", "document_verdict"):
        resp = notifs.put(
            f"/preferences/{kind}",
            json={"email": True, "inbox": True, "mode": "digest"},
            headers=cast.headers("preparer"),
        )
        assert resp.json["mode"] == "digest"
    plan = _returned(cast, school, "IAP-DIGEST")
    doc = str(uuid.uuid4())
    send_as(
        cast.runtime,
        "notifications.document_verdict",
        {
            "document_id": doc,
            "version": 1,
            "tenant_id": school["id"],
            "school_id": school["school"],
            "uploaded_by": cast.people["preparer"]["id"],
            "status": "rejected",
            "reasons": [{"rule_id": "caps", "text_lv": "Pārsniegts limits.", "text_en": "Over the cap."}],
            "decided_at": datetime.now(UTC).isoformat(),
        },
    )
    wait_for(lambda: len(deliveries(cast.runtime, status="digest_pending")) == 2, message="two batched deliveries")
    assert mails_to(sink_dir, cast.email("preparer")) == []
    assert _inbox(notifs, cast, "preparer")["total"] == 2  # the inbox is never batched

    runtime = cast.runtime
    s = runtime.settings
    day = datetime.now(RIGA).date() + timedelta(days=1)  # a frozen clock: tomorrow, around the digest hour

    def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
        return datetime.combine(day + timedelta(days=days), time(hour, minute), tzinfo=RIGA)

    before_hour, morning = at(6, 59), at(7, 5)
    with runtime.db.session() as session:
        assert digests.send_digests(session, runtime.outbox, s.link_base_url, s.digest_hour, before_hour) == 0
    with runtime.db.session() as session:
        assert digests.send_digests(session, runtime.outbox, s.link_base_url, s.digest_hour, morning) == 1
    with runtime.db.session() as session:
        assert digests.send_digests(session, runtime.outbox, s.link_base_url, s.digest_hour, morning) == 0
    (mail,) = wait_for(lambda: mails_to(sink_dir, cast.email("preparer")), message="the digest")
    text = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == "PuMPuRS: dienas kopsavilkums (2) / PuMPuRS: daily digest (2)"
    assert mail["X-PuMPuRS-Kind"] == "digest"
    assert "Plāns IAP-DIGEST atgriezts" in text and "Dokuments noraidīts" in text and "Pārsniegts limits." in text
    assert f"{LINKS}/plans/{plan}" in text and f"{LINKS}/documents/{doc}" in text and "Plan IAP-DIGEST" in text
    assert {d.status for d in deliveries(cast.runtime, user_id=uuid.UUID(cast.people["preparer"]["id"]))} == {
        "digested",
        "sent",
    }

    # something batched after today's digest waits for tomorrow's
    _returned(cast, school, "IAP-LATE")
    wait_for(lambda: len(deliveries(cast.runtime, status="digest_pending")) == 1, message="the late item batched")
    later = at(17)
    with runtime.db.session() as session:
        assert digests.send_digests(session, runtime.outbox, s.link_base_url, s.digest_hour, later) == 0
    tomorrow = at(8, days=1)
    with runtime.db.session() as session:
        assert digests.send_digests(session, runtime.outbox, s.link_base_url, s.digest_hour, tomorrow) == 1
    wait_for(lambda: len(mails_to(sink_dir, cast.email("preparer"))) == 2, message="tomorrow's digest")
