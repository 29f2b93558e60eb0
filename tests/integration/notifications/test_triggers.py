"""Each trigger reaches the right people and no one else: the e-mails in the SMTP sink and the inboxes.

One town is built once for the module (two municipalities in two regions, a vocational school, people
in every role); each test sends one message as its service would and names exactly who is told.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from services.notifications.models import Base, InboxItem, Notification
from tests.conftest import truncate_all
from tests.integration.conftest import World
from tests.integration.notifications.conftest import (
    LINKS,
    Cast,
    mails_to,
    purge_queue,
    send_as,
    settled,
    staff_grants,
)
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def town(identity_app, identity_settings, notifications_app, notifications_settings, notifications_worker) -> Cast:  # type: ignore[no-untyped-def]
    purge_queue(notifications_settings)
    truncate_all(notifications_settings.database_url, [t.name for t in Base.metadata.sorted_tables])
    world = World(identity_app.test_client(), identity_app.extensions["runtime"], identity_settings)
    c = Cast(world, notifications_app.extensions["runtime"])
    a = c.tenant(region="kurzeme", schools=2)
    b = c.tenant(region="latgale")
    v = c.tenant(kind="vocational_school", region="kurzeme")
    ga, gb, gv = staff_grants(a), staff_grants(b), staff_grants(v)
    s2 = staff_grants(a, a["schools"][1])
    for role in ("coordinator", "director", "teacher", "municipality", "accountant"):
        c.person(f"{role}_a", a, ga[role])
    c.person("preparer_a", a, ga["preparer"], ga["teacher"], language="en")
    c.person("other_preparer_a", a, ga["preparer"], ga["teacher"])
    c.person("school_accountant_a", a, {"role": "accountant", "tenant_id": a["id"], "school_id": a["school"]})
    c.person("auditor_a", a, {"role": "auditor", "tenant_id": a["id"]})
    c.person("coordinator_a2", a, s2["coordinator"])
    c.person("director_a2", a, s2["director"])
    for role in ("coordinator", "director", "municipality", "accountant"):
        c.person(f"{role}_b", b, gb[role])
    c.person("coordinator_v", v, gv["coordinator"])
    c.person("director_v", v, gv["director"])
    c.person("regional_kurzeme", None, {"role": "regional_coordinator", "region": "kurzeme"})
    c.person("regional_latgale", None, {"role": "regional_coordinator", "region": "latgale"})
    c.person("admin", None, {"role": "platform_admin"})
    c.places = {"a": a, "b": b, "v": v}  # type: ignore[attr-defined]
    return c


def told(town: Cast, sink, ref_type: str, ref_id: str, *, emails: bool = True) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    """Who got an inbox item and who got an e-mail about this reference, by their names in the town."""
    runtime = town.runtime

    def done() -> list[Any] | None:
        with runtime.db.session() as s:
            found = s.execute(
                select(Notification.id).where(Notification.ref_type == ref_type, Notification.ref_id == ref_id)
            ).first()
        return found and settled(runtime)

    wait_for(done, timeout=30, message=f"a notification about {ref_type} {ref_id}")
    by_id = {p["id"]: name for name, p in town.people.items()}
    by_email = {p["email"]: name for name, p in town.people.items()}
    with runtime.db.session() as s:
        owners = s.execute(
            select(InboxItem.user_id).where(InboxItem.ref_type == ref_type, InboxItem.ref_id == ref_id)
        ).scalars()
        inbox = {by_id.get(str(u), str(u)) for u in owners}
    mailed = {
        by_email.get(str(m["To"]), str(m["To"]))
        for m in mails_to(sink, *by_email)
        if m["X-PuMPuRS-Ref"] == f"{ref_type}:{ref_id}"
    }
    return inbox, mailed


def _now() -> str:
    return datetime.now(UTC).isoformat()


def test_a_verdict_to_fix_reaches_the_uploader_and_the_school_coordinator_only(town, sink_dir):
    a = town.places["a"]
    doc = str(uuid.uuid4())
    send_as(
        town.runtime,
        "notifications.document_verdict",
        {
            "document_id": doc,
            "version": 2,
            "tenant_id": a["id"],
            "school_id": a["school"],
            "uploaded_by": town.people["accountant_a"]["id"],
            "status": "needs_fix",
            "reasons": [
                {"rule_id": "attestation.present", "text_lv": "Nav apliecinājuma.", "text_en": "No attestation."}
            ],
            "decided_at": _now(),
        },
    )
    inbox, mailed = told(town, sink_dir, "document", doc)
    assert inbox == mailed == {"accountant_a", "coordinator_a"}
    mail = next(m for m in mails_to(sink_dir, town.email("coordinator_a")) if m["X-PuMPuRS-Ref"] == f"document:{doc}")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert mail["Subject"].startswith("Dokuments jālabo") and "A document needs fixing" in mail["Subject"]
    assert "Nav apliecinājuma." in text and "No attestation." in text and f"{LINKS}/documents/{doc}" in text
    assert (
        f'href="{LINKS}/documents/{doc}"' in html and "Iemesli" in html and mail["X-PuMPuRS-Kind"] == "document_verdict"
    )


def test_a_rejected_tenant_wide_document_goes_to_the_uploader_and_the_municipality(town, sink_dir):
    a = town.places["a"]
    doc = str(uuid.uuid4())
    payload = {
        "document_id": doc,
        "version": 1,
        "tenant_id": a["id"],
        "uploaded_by": town.people["accountant_a"]["id"],
        "status": "rejected",
        "reasons": [{"rule_id": "ledger.double", "text_lv": "Jau apmaksāts.", "text_en": "Already paid."}],
        "decided_at": _now(),
    }
    send_as(town.runtime, "notifications.document_verdict", payload)
    assert told(town, sink_dir, "document", doc) == ({"accountant_a", "municipality_a"},) * 2


@pytest.mark.parametrize(
    ("level", "place", "expected"),
    [
        ("director", "a", {"director_a"}),
        ("municipality", "a", {"municipality_a"}),
        ("ikvd", "a", {"admin"}),
        ("director", "v", {"director_v"}),
    ],
)
def test_a_plan_awaiting_approval_reaches_the_approvers_of_that_level(town, sink_dir, level, place, expected):
    tenant = town.places[place]
    plan = str(uuid.uuid4())
    payload = {"plan_id": plan, "code": "IAP-1", "tenant_id": tenant["id"], "school_id": tenant["school"]}
    send_as(town.runtime, "notifications.plan_awaiting_approval", {**payload, "level": level, "since": _now()})
    assert told(town, sink_dir, "plan", plan) == (expected, expected)


@pytest.mark.parametrize("kind", ["plan_returned", "plan_approved"])
def test_a_plan_sent_back_or_approved_reaches_its_preparer_in_their_language(town, sink_dir, kind):
    a = town.places["a"]
    plan = str(uuid.uuid4())
    send_as(
        town.runtime,
        f"notifications.{kind}",
        {
            "plan_id": plan,
            "code": "IAP-2026-7",
            "tenant_id": a["id"],
            "school_id": a["school"],
            "preparer_id": town.people["preparer_a"]["id"],
            "level": "director",
            "comment": "Pievienojiet riska pamatojumu.",
            "decided_by": town.people["director_a"]["id"],
        },
    )
    assert told(town, sink_dir, "plan", plan) == ({"preparer_a"}, {"preparer_a"})
    mail = next(m for m in mails_to(sink_dir, town.email("preparer_a")) if m["X-PuMPuRS-Ref"] == f"plan:{plan}")
    text = mail.get_body(("plain",)).get_content()
    # the preparer reads English: English first, Latvian after it
    assert mail["Subject"].startswith("Plan IAP-2026-7") and "Plāns IAP-2026-7" in mail["Subject"]
    assert text.index("Plan IAP-2026-7") < text.index("Plāns IAP-2026-7")
    if kind == "plan_returned":
        assert "Pievienojiet riska pamatojumu." in text


def test_a_remote_consultation_order_reaches_the_regions_coordinator_only(town, sink_dir):
    a = town.places["a"]
    order = str(uuid.uuid4())
    send_as(
        town.runtime,
        "notifications.order_registered",
        {
            "order_id": order,
            "tenant_id": a["id"],
            "school_id": a["school"],
            "region": "kurzeme",
            "kind": "remote_consultations",
            "number": "1-12/7",
            "issued_on": "2026-10-01",
            "valid_from": "2026-10-01",
            "valid_to": "2026-12-22",
            "student_count": 3,
            "provider_count": 2,
        },
    )
    assert told(town, sink_dir, "order", order) == ({"regional_kurzeme"}, {"regional_kurzeme"})


def test_a_statement_reaches_the_tenants_accountants_only(town, sink_dir):
    a = town.places["a"]
    statement = str(uuid.uuid4())
    send_as(
        town.runtime,
        "notifications.statement_ready",
        {"statement_id": statement, "tenant_id": a["id"], "month": "2026-10-01", "total": "1234.50"},
    )
    expected = {"accountant_a", "school_accountant_a"}
    assert told(town, sink_dir, "statement", statement) == (expected, expected)


def test_a_dead_lettered_message_reaches_the_platform_admins(town, sink_dir):
    dead = str(uuid.uuid4())
    send_as(
        town.runtime,
        "notifications.message_dead_lettered",
        {"service": "plans", "dead_letter_id": dead, "task_name": "plans.sync_user", "error_type": "ValueError"},
    )
    assert told(town, sink_dir, "dead_letter", dead) == ({"admin"}, {"admin"})


def test_a_failed_delivery_of_our_own_is_told_in_the_inbox_only(town, sink_dir):
    """Mailing the admins about a failed e-mail could fail the same way, and loop."""
    dead = str(uuid.uuid4())
    send_as(
        town.runtime,
        "notifications.message_dead_lettered",
        {
            "service": "notifications",
            "dead_letter_id": dead,
            "task_name": "notifications.deliver_email",
            "error_type": "Unavailable",
        },
    )
    assert told(town, sink_dir, "dead_letter", dead) == ({"admin"}, set())
