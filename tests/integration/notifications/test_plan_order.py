"""Plans' messages about one plan may arrive out of order (at-least-once delivery, several workers): the
decision time they carry keeps the waiting-plans read model at the newest fact, so approval reminders,
the semester of an evaluation, and who is told stay right."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from services.notifications.models import InboxItem, WaitingPlan
from tests.integration.notifications.conftest import send_as, staff_grants
from tests.integration.notifications.test_reminders import Days
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture()
def school(cast) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    a = cast.tenant()
    g = staff_grants(a)
    for name in ("director", "preparer", "municipality"):
        cast.person(name, a, g[name])
    cast.person("admin", None, {"role": "platform_admin"})
    plan = str(uuid.uuid4())
    return {
        "tenant": a,
        "plan": plan,
        "facts": {"plan_id": plan, "code": "IAP-O", "tenant_id": a["id"], "school_id": a["school"]},
    }


def deliver(cast: Any, task: str, payload: dict[str, Any]) -> None:
    """Send one message and wait until the worker has handled it (whether or not it changed anything)."""
    mid = send_as(cast.runtime, task, payload)
    processed = cast.runtime.tables.processed

    def handled() -> bool:
        with cast.runtime.db.session() as s:
            return bool(s.execute(select(func.count()).where(processed.c.message_id == mid)).scalar_one())

    wait_for(handled, message=f"{task} handled")


def decided(school: dict[str, Any], cast: Any, at: str) -> dict[str, Any]:
    who = cast.people["director"]["id"]
    return {
        **school["facts"],
        "preparer_id": cast.people["preparer"]["id"],
        "level": "director",
        "comment": "Precizējiet riskus.",
        "decided_by": who,
        "decided_at": at,
        "semester": "2026/2027-1",
    }


def row(cast: Any, plan: str) -> WaitingPlan:
    with cast.runtime.db.session() as s:
        found = s.get(WaitingPlan, uuid.UUID(plan))
        assert found is not None
        s.expunge(found)
        return found


def told(cast: Any, name: str, kind: str) -> int:
    with cast.runtime.db.session() as s:
        query = select(func.count()).where(
            InboxItem.kind == kind, InboxItem.user_id == uuid.UUID(cast.people[name]["id"])
        )
        return int(s.execute(query).scalar_one())


def test_a_late_wait_after_the_approval_changes_nothing_and_the_approval_keeps_its_own_date(cast, school):
    plan = school["plan"]
    deliver(
        cast, "notifications.plan_approved", {**decided(school, cast, "2026-11-20T10:00:00+00:00"), "level": "ikvd"}
    )
    # the director's wait of 2 November arrives only now
    deliver(
        cast,
        "notifications.plan_awaiting_approval",
        {**school["facts"], "level": "director", "since": "2026-11-02T08:00:00+00:00"},
    )
    got = row(cast, plan)
    assert (got.status, got.approved_on, got.semester) == ("approved", date(2026, 11, 20), "2026/2027-1")
    assert told(cast, "director", "plan_awaiting_approval") == 0
    assert Days(cast, ("approval_overdue",)).run(date(2026, 11, 30)) == set()


def test_a_late_return_after_the_resubmitted_plan_waits_again_keeps_it_waiting(cast, school):
    plan = school["plan"]
    # returned at 9:00, resubmitted at 11:00: the new wait arrives first, the return after it
    deliver(
        cast,
        "notifications.plan_awaiting_approval",
        {**school["facts"], "level": "director", "since": "2026-11-02T11:00:00+00:00"},
    )
    deliver(cast, "notifications.plan_returned", decided(school, cast, "2026-11-02T09:00:00+00:00"))
    got = row(cast, plan)
    assert (got.status, got.level, got.since.isoformat()) == ("waiting", "director", "2026-11-02T11:00:00+00:00")
    assert told(cast, "preparer", "plan_returned") == 0  # they resubmitted since; no stale news
    # the plan still waits: its director is reminded once it has waited too long
    assert Days(cast, ("approval_overdue",)).run(date(2026, 11, 8)) == {"director"}


def test_a_late_return_after_the_approval_leaves_the_plan_approved(cast, school):
    plan = school["plan"]
    deliver(
        cast, "notifications.plan_approved", {**decided(school, cast, "2026-11-20T10:00:00+00:00"), "level": "ikvd"}
    )
    deliver(cast, "notifications.plan_returned", decided(school, cast, "2026-11-05T10:00:00+00:00"))
    got = row(cast, plan)
    assert (got.status, got.approved_on) == ("approved", date(2026, 11, 20))
    assert told(cast, "preparer", "plan_approved") == 1 and told(cast, "preparer", "plan_returned") == 0
    # a newer decision does win (reviewed, resubmitted and sent back again): the plan is approved no more
    deliver(cast, "notifications.plan_returned", decided(school, cast, "2026-11-25T10:00:00+00:00"))
    assert row(cast, plan).status == "returned" and told(cast, "preparer", "plan_returned") == 1
