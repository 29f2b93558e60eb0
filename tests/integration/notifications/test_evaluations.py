"""Semester evaluations on a frozen clock: plans' message that one is written stops its reminders, and a
missing one is overdue after the semester's last day, escalating preparer and school coordinator ->
director -> municipality coordinator (a vocational school's director is the top); e-mails through the
real worker to the SMTP sink."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from services.notifications import reminder_jobs
from services.notifications.models import EvaluationWritten
from tests.integration.notifications.conftest import mails_to, send_as, settled, staff_grants
from tests.integration.notifications.test_reminders import AUTUMN, Days, _plan_status, calendar
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration

END = date(2026, 12, 22)  # AUTUMN's last day in the calendar `calendar` sends
DUE, OVERDUE = ("evaluation_due",), ("evaluation_overdue",)


def approved(cast: Any, tenant: dict[str, Any], preparer: str, school: str | None = None) -> str:
    """A plan of `preparer` approved on 1 October for the autumn semester, as plans tells it."""
    plan = str(uuid.uuid4())
    send_as(
        cast.runtime,
        "notifications.plan_approved",
        {
            "plan_id": plan,
            "code": f"IAP-{plan[:4]}",
            "tenant_id": tenant["id"],
            "school_id": school or tenant["school"],
            "preparer_id": cast.people[preparer]["id"],
            "level": "ikvd",
            "comment": None,
            "decided_by": cast.people[preparer]["id"],
            "decided_at": "2026-10-01T09:00:00+00:00",
            "semester": AUTUMN["code"],
        },
    )
    wait_for(lambda: _plan_status(cast.runtime, plan) == "approved", message="the approved plan")
    return plan


def written(cast: Any, tenant: dict[str, Any], plan: str, at: str) -> None:
    payload = {
        "plan_id": plan,
        "tenant_id": tenant["id"],
        "school_id": tenant["school"],
        "semester": AUTUMN["code"],
        "written_at": at,
    }
    send_as(cast.runtime, "notifications.evaluation_written", payload)
    wait_for(lambda: _written_at(cast.runtime, plan) is not None, message="the written evaluation")


def _written_at(runtime: Any, plan: str) -> str | None:
    with runtime.db.session() as s:
        row = s.get(EvaluationWritten, (uuid.UUID(plan), AUTUMN["code"]))
        return row.written_at.isoformat() if row else None


class Tally(Days):
    """Days, counting: a coordinator is told once per overdue plan of the school."""

    def count(self, day: date) -> dict[str, int]:
        before = self._seen()
        with self.cast.runtime.db.session() as s:
            reminder_jobs.send_reminders(s, self.cast.runtime.outbox, self.cast.runtime.settings, day)
        return dict(self._seen() - before)


def test_a_written_evaluation_stops_the_reminders_and_the_overdue_notices(cast):
    a = cast.tenant()
    g = staff_grants(a)
    cast.person("early", a, g["preparer"])
    cast.person("late", a, g["preparer"])
    cast.person("never", a, g["preparer"])
    cast.person("coordinator", a, g["coordinator"])
    cast.person("director", a, g["director"])
    calendar(cast)
    plans = {name: approved(cast, a, name) for name in ("early", "late", "never")}
    due, overdue = Days(cast, DUE), Tally(cast, OVERDUE)
    assert due.run(END - timedelta(days=7)) == {"early", "late", "never"}

    # written before the last day: no reminder on it and no notice after it
    written(cast, a, plans["early"], "2026-12-18T10:00:00+00:00")
    assert due.run(END) == {"late", "never"}
    assert overdue.count(END + timedelta(days=1)) == {"late": 1, "never": 1, "coordinator": 2}
    # written late, on the second overdue day: the director is never told about it
    written(cast, a, plans["late"], "2026-12-24T08:00:00+00:00")
    # an older copy arriving afterwards changes nothing (the newest writing is kept)
    written(cast, a, plans["late"], "2026-12-23T08:00:00+00:00")
    assert _written_at(cast.runtime, plans["late"]) == "2026-12-24T08:00:00+00:00"
    told = {d: overdue.count(END + timedelta(days=d)) for d in range(2, 12)}
    assert told[4] == {"never": 1, "coordinator": 1, "director": 1}
    assert {d for d, who in told.items() if who} == {4, 7}
    assert due.run(END + timedelta(days=12)) == set()


def test_a_missing_evaluation_escalates_to_the_director_then_the_municipality_and_no_one_else(cast, sink_dir):
    a = cast.tenant(schools=2)
    s1, s2 = a["schools"]
    g1, g2 = staff_grants(a, s1), staff_grants(a, s2)
    cast.person("preparer", a, g1["preparer"])
    cast.person("other_preparer", a, g1["preparer"])
    cast.person("teacher", a, g1["teacher"])
    cast.person("coordinator", a, g1["coordinator"])
    cast.person("director", a, g1["director"])
    cast.person("coordinator_2", a, g2["coordinator"])
    cast.person("director_2", a, g2["director"])
    cast.person("municipality", a, g1["municipality"])
    cast.person("accountant", a, g1["accountant"])
    b = cast.tenant(region="latgale")
    cast.person("other_municipality", b, staff_grants(b)["municipality"])
    cast.person("admin", None, {"role": "platform_admin"})
    calendar(cast)
    plan = approved(cast, a, "preparer", s1)
    overdue = Days(cast, OVERDUE)
    # the semester ends on 22 December; one step every 3 days (NOTIFICATIONS_EVALUATION_ESCALATION_DAYS)
    told = {d: overdue.run(END + timedelta(days=d)) for d in range(0, 14)}
    assert told[1] == {"preparer", "coordinator"}
    assert told[4] == {"preparer", "coordinator", "director"}
    assert told[7] == {"preparer", "coordinator", "director", "municipality"}
    assert {d for d, who in told.items() if who} == {1, 4, 7}

    wait_for(lambda: settled(cast.runtime), message="the mails sent")
    counts = {n: len(_overdue_mails(sink_dir, cast.email(n))) for n in cast.people}
    assert counts == {
        "preparer": 3,
        "other_preparer": 0,
        "teacher": 0,
        "coordinator": 3,
        "director": 2,
        "coordinator_2": 0,
        "director_2": 0,
        "municipality": 1,
        "accountant": 0,
        "other_municipality": 0,
        "admin": 0,
    }
    # no one but the preparer (told of the approval and reminded on the last day) had any other mail
    others = {n: len(mails_to(sink_dir, cast.email(n))) for n in cast.people if n != "preparer"}
    assert others == {n: c for n, c in counts.items() if n != "preparer"}
    (mail,) = _overdue_mails(sink_dir, cast.email("municipality"))
    assert mail["X-PuMPuRS-Ref"] == f"plan:{plan}"
    assert f"Nokavēts plāna IAP-{plan[:4]} semestra izvērtējums" in mail["Subject"]
    assert "22.12.2026" in mail.get_body(("plain",)).get_content()


def _overdue_mails(sink: Any, address: str) -> list[Any]:
    return [m for m in mails_to(sink, address) if m["X-PuMPuRS-Kind"] == "evaluation_overdue"]


def test_a_vocational_schools_missing_evaluation_stops_at_its_director(cast):
    v = cast.tenant(kind="vocational_school")
    g = staff_grants(v)
    cast.person("preparer", v, g["preparer"])
    cast.person("coordinator", v, g["coordinator"])
    cast.person("director", v, g["director"])
    cast.person("admin", None, {"role": "platform_admin"})
    # the vocational semester of the same code ends on 15 January
    calendar(
        cast,
        semesters=[
            {**AUTUMN, "starts_on": "2026-09-01", "ends_on": END.isoformat()},
            {**AUTUMN, "school_type": "vocational", "starts_on": "2026-09-01", "ends_on": "2027-01-15"},
        ],
    )
    approved(cast, v, "preparer")
    overdue = Days(cast, OVERDUE)
    told = {d: overdue.run(date(2027, 1, 15) + timedelta(days=d)) for d in range(0, 14)}
    assert told[1] == {"preparer", "coordinator"}
    assert told[4] == {"preparer", "coordinator", "director"}
    assert {d for d, who in told.items() if who} == {1, 4}
