"""Reminders on the right days, on a frozen clock: the expense package deadline (before, then overdue
notices escalating coordinator -> director -> municipality coordinator), plans waiting too long in
approval, and semester evaluations; e-mails through the real worker to the SMTP sink."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.notifications import reminder_jobs
from services.notifications.models import InboxItem, WaitingPlan
from tests.integration.notifications.conftest import mails_to, send_as, settled, staff_grants
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration
RIGA = ZoneInfo("Europe/Riga")

AUTUMN = {"code": "2026/2027-1", "school_type": "general", "school_year": "2026/2027", "number": 1}
SPRING = {"code": "2026/2027-2", "school_type": "general", "school_year": "2026/2027", "number": 2}


def calendar(cast, deadline_day: int = 10, semesters: list[dict[str, Any]] | None = None) -> None:  # type: ignore[no-untyped-def]
    semesters = semesters or [
        {**AUTUMN, "starts_on": "2026-09-01", "ends_on": "2026-12-22"},
        {**SPRING, "starts_on": "2027-01-05", "ends_on": "2027-05-31"},
    ]
    send_as(
        cast.runtime,
        "notifications.sync_calendar",
        {"revision": 1, "deadline_day": deadline_day, "semesters": semesters},
    )
    wait_for(lambda: _has_calendar(cast.runtime), message="the calendar in notifications")


def _has_calendar(runtime: Any) -> bool:
    with runtime.db.session() as s:
        return reminder_jobs.current_calendar(s) is not None


class Days:
    """Runs the reminder job as the scheduler would, on days the test names; says who was told what."""

    def __init__(self, cast: Any, kinds: tuple[str, ...]) -> None:
        self.cast, self.kinds = cast, kinds
        self.names = {p["id"]: name for name, p in cast.people.items()}

    def _seen(self) -> Counter[str]:
        with self.cast.runtime.db.session() as s:
            rows = s.execute(select(InboxItem.user_id).where(InboxItem.kind.in_(self.kinds))).scalars()
            return Counter(self.names.get(str(u), "?") for u in rows)

    def run(self, day: date) -> set[str]:
        runtime = self.cast.runtime
        before = self._seen()
        with runtime.db.session() as s:
            reminder_jobs.send_reminders(s, runtime.outbox, runtime.settings, day)
        new = self._seen() - before
        assert all(n == 1 for n in new.values()), f"someone was told twice on {day}: {new}"
        return set(new)


def test_the_package_deadline_reminds_before_and_escalates_after(cast, sink_dir):
    a = cast.tenant(schools=2)
    s1, s2 = a["schools"]
    g1, g2 = staff_grants(a, s1), staff_grants(a, s2)
    cast.person("coordinator_1", a, g1["coordinator"])
    cast.person("director_1", a, g1["director"])
    cast.person("coordinator_2", a, g2["coordinator"])
    cast.person("director_2", a, g2["director"])
    cast.person("municipality", a, g1["municipality"])
    cast.person("accountant", a, g1["accountant"])
    cast.person("preparer", a, g2["preparer"])
    calendar(cast)
    # finance has the first school's October documents: that package is not missing
    send_as(
        cast.runtime,
        "notifications.expense_package_received",
        {"tenant_id": a["id"], "school_id": s1, "month": "2026-10-01"},
    )
    wait_for(lambda: _received(cast.runtime), message="the received package")
    days = Days(cast, ("deadline_reminder", "deadline_overdue"))
    # October's package is due on 10 November; reminders 5 and 1 days before, escalation every 3 days
    told = {d: days.run(date(2026, 11, d)) for d in range(3, 23)}
    assert told[5] == {"coordinator_2"}
    assert told[9] == {"coordinator_2"}
    assert told[11] == {"coordinator_2"}
    assert told[14] == {"coordinator_2", "director_2"}
    assert told[17] == {"coordinator_2", "director_2", "municipality"}
    assert {d for d, who in told.items() if who} == {5, 9, 11, 14, 17}

    wait_for(lambda: settled(cast.runtime), message="the mails sent")
    counts = {n: len(mails_to(sink_dir, cast.email(n))) for n in cast.people}
    assert counts == {
        "coordinator_1": 0,
        "director_1": 0,
        "coordinator_2": 5,
        "director_2": 2,
        "municipality": 1,
        "accountant": 0,
        "preparer": 0,
    }
    (overdue,) = mails_to(sink_dir, cast.email("municipality"))
    assert overdue["X-PuMPuRS-Kind"] == "deadline_overdue"
    assert "Nokavēta izdevumu pakete par 10.2026" in overdue["Subject"]
    assert "10.11.2026" in overdue.get_body(("plain",)).get_content()


def _received(runtime: Any) -> bool:
    from services.notifications.models import PackageReceived

    with runtime.db.session() as s:
        return bool(s.execute(select(func.count()).select_from(PackageReceived)).scalar_one())


def test_a_plan_waiting_too_long_reminds_its_approvers_then_the_level_above(cast):
    a = cast.tenant()
    g = staff_grants(a)
    cast.person("director", a, g["director"])
    cast.person("coordinator", a, g["coordinator"])
    cast.person("municipality", a, g["municipality"])
    cast.person("preparer", a, g["preparer"])
    cast.person("admin", None, {"role": "platform_admin"})
    plan = str(uuid.uuid4())
    facts = {"plan_id": plan, "code": "IAP-W", "tenant_id": a["id"], "school_id": a["school"]}
    send_as(
        cast.runtime,
        "notifications.plan_awaiting_approval",
        {**facts, "level": "director", "since": "2026-11-02T08:00:00+00:00"},
    )
    wait_for(lambda: _plan_status(cast.runtime, plan) == "waiting", message="the waiting plan")
    days = Days(cast, ("approval_overdue",))
    # waiting more than 5 days reminds the director; 3 days later the municipality is told too
    told = {d: days.run(date(2026, 11, d)) for d in range(2, 14)}
    assert told[8] == {"director"}
    assert told[11] == {"director", "municipality"}
    assert {d for d, who in told.items() if who} == {8, 11}

    # the director approved: the plan now waits for the municipality, whose reminder escalates to IKVD
    send_as(
        cast.runtime,
        "notifications.plan_awaiting_approval",
        {**facts, "level": "municipality", "since": "2026-11-13T09:00:00+00:00"},
    )
    wait_for(lambda: _plan_level(cast.runtime, plan) == "municipality", message="the next level")
    told = {d: days.run(date(2026, 11, d)) for d in range(13, 26)}
    assert told[19] == {"municipality"}
    assert told[22] == {"municipality", "admin"}
    assert {d for d, who in told.items() if who} == {19, 22}

    send_as(
        cast.runtime,
        "notifications.plan_approved",
        {
            **facts,
            "preparer_id": cast.people["preparer"]["id"],
            "level": "ikvd",
            "comment": None,
            "decided_by": cast.people["admin"]["id"],
        },
    )
    wait_for(lambda: _plan_status(cast.runtime, plan) == "approved", message="the approval")
    assert days.run(date(2026, 11, 30)) == set()


def _plan_status(runtime: Any, plan: str) -> str | None:
    with runtime.db.session() as s:
        row = s.get(WaitingPlan, uuid.UUID(plan))
        return row.status if row else None


def _plan_level(runtime: Any, plan: str) -> str | None:
    with runtime.db.session() as s:
        row = s.get(WaitingPlan, uuid.UUID(plan))
        return row.level if row else None


def test_semester_evaluations_are_due_at_the_semester_end_for_each_approved_plan(cast, sink_dir):
    a = cast.tenant()
    g = staff_grants(a)
    cast.person("preparer", a, g["preparer"])
    cast.person("other_preparer", a, g["preparer"])
    cast.person("director", a, g["director"])
    # the plan is approved today (the real date): the semester it belongs to ends in ten days
    today = datetime.now(RIGA).date()
    end = today + timedelta(days=10)
    calendar(
        cast,
        semesters=[
            {**AUTUMN, "starts_on": (today - timedelta(days=60)).isoformat(), "ends_on": end.isoformat()},
            {
                **SPRING,
                "starts_on": (end + timedelta(days=14)).isoformat(),
                "ends_on": (end + timedelta(days=150)).isoformat(),
            },
        ],
    )
    plan = str(uuid.uuid4())
    send_as(
        cast.runtime,
        "notifications.plan_approved",
        {
            "plan_id": plan,
            "code": "IAP-E",
            "tenant_id": a["id"],
            "school_id": a["school"],
            "preparer_id": cast.people["preparer"]["id"],
            "level": "ikvd",
            "comment": None,
            "decided_by": cast.people["director"]["id"],
        },
    )
    wait_for(lambda: _plan_status(cast.runtime, plan) == "approved", message="the approved plan")
    days = Days(cast, ("evaluation_due",))
    told = {offset: days.run(end - timedelta(days=offset)) for offset in range(9, -3, -1)}
    assert told[7] == {"preparer"} and told[0] == {"preparer"}
    assert {o for o, who in told.items() if who} == {7, 0}
    wait_for(lambda: settled(cast.runtime), message="the mails")
    mails = [m for m in mails_to(sink_dir, cast.email("preparer")) if m["X-PuMPuRS-Kind"] == "evaluation_due"]
    assert len(mails) == 2 and all(m["X-PuMPuRS-Ref"] == f"plan:{plan}" for m in mails)
    assert mails_to(sink_dir, cast.email("other_preparer")) == []


def test_the_scheduled_jobs_run_on_the_worker_with_the_real_date(cast):
    runtime = cast.runtime
    send_as(runtime, "notifications.send_reminders", {})
    send_as(runtime, "notifications.send_digests", {})

    def handled() -> bool:
        with runtime.db.session() as s:
            names = s.execute(select(runtime.tables.processed.c.task_name)).scalars().all()
        return {"notifications.send_reminders", "notifications.send_digests"} <= set(names)

    wait_for(handled, message="both jobs handled")
    with runtime.db.session() as s:
        assert s.execute(select(func.count()).select_from(runtime.tables.dead_letters)).scalar_one() == 0
