"""notifications.reminders: which reminders are due on which day, as pure rules on a frozen clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.notifications.audience import Audience
from services.notifications.reminders import (
    Calendar,
    PlanFacts,
    Policy,
    School,
    Semester,
    approval_reminders,
    deadline_of,
    evaluation_reminders,
    package_reminders,
    plan_semester,
    window,
)

pytestmark = pytest.mark.unit

T, S, S2, V = "t-1", "s-1", "s-2", "v-1"
GENERAL = (
    Semester("2026/2027-1", "general", date(2026, 9, 1), date(2026, 12, 22)),
    Semester("2026/2027-2", "general", date(2027, 1, 5), date(2027, 5, 31)),
    Semester("2026/2027-1", "vocational", date(2026, 9, 1), date(2027, 1, 15)),
    Semester("2026/2027-1v", "vocational", date(2026, 9, 1), date(2027, 1, 29), tenant_id=V),
)
CAL = Calendar(10, GENERAL)
SCHOOL = School(S, T, "municipality", "general", "Ugāles vidusskola")
POLICY = Policy(days_before=(5, 1), escalation_days=3, evaluation_days_before=7, approval_wait_days=5)


def _who(audience: list[Audience]) -> list[tuple[str | None, str | None]]:
    return [(a.role, a.school_id or a.tenant_id) for a in audience]


@pytest.mark.parametrize(
    ("month", "day", "due"),
    [
        (date(2026, 10, 1), 10, date(2026, 11, 10)),
        (date(2026, 12, 1), 10, date(2027, 1, 10)),
        (date(2027, 1, 1), 28, date(2027, 2, 28)),
        (date(2026, 10, 1), 1, date(2026, 11, 1)),
    ],
)
def test_a_months_package_is_due_on_the_day_of_the_following_month(month, day, due):
    assert deadline_of(month, day) == due


@pytest.mark.parametrize(
    ("left", "expected"), [(9, None), (6, None), (5, 5), (3, 5), (2, 5), (1, 1), (0, 1), (-1, None)]
)
def test_a_day_falls_in_the_smallest_window_that_still_holds_it(left, expected):
    assert window(left, (5, 1)) == expected


def _on(day: date, received: set = frozenset(), schools: list[School] | None = None) -> list:  # type: ignore[type-arg]
    return package_reminders(day, CAL, schools or [SCHOOL], set(received), POLICY)


def test_reminders_come_in_their_windows_before_the_deadline_only():
    assert _on(date(2026, 11, 4)) == []
    (first,) = _on(date(2026, 11, 5))
    assert first.kind == "deadline_reminder" and first.key == f"deadline_reminder:{S}:2026-10-01:5"
    assert first.data["days_left"] == 5 and first.data["deadline"] == "2026-11-10"
    assert _who(first.audience) == [("school_coordinator", S)]
    # a missed day is caught up later in the same window, under the same key
    assert [r.key for r in _on(date(2026, 11, 7))] == [first.key]
    assert [r.key for r in _on(date(2026, 11, 9))] == [f"deadline_reminder:{S}:2026-10-01:1"]
    assert [r.key for r in _on(date(2026, 11, 10))] == [f"deadline_reminder:{S}:2026-10-01:1"]


def test_an_overdue_package_escalates_coordinator_director_municipality_then_stops():
    steps = {}
    for d in range(11, 22):
        (r,) = _on(date(2026, 11, d)) or [None]  # type: ignore[list-item]
        steps[d] = None if r is None else (r.data["step"], _who(r.audience))
    assert steps[11] == (0, [("school_coordinator", S)])
    assert steps[13] == steps[11]
    assert steps[14] == (1, [("school_coordinator", S), ("director", S)])
    assert steps[17] == (2, [("school_coordinator", S), ("director", S), ("municipality_coordinator", T)])
    assert steps[19] == steps[17]
    assert steps[20] is None  # every level was told; nothing new is said
    (first,) = _on(date(2026, 11, 11))
    assert first.kind == "deadline_overdue" and first.data["days_late"] == 1


def test_a_received_package_has_no_reminders_and_a_tenant_wide_one_covers_its_schools():
    other = School(S2, T, "municipality", "general")
    got = _on(date(2026, 11, 12), {(T, S, date(2026, 10, 1))}, [SCHOOL, other])
    assert [r.school_id for r in got] == [S2]
    assert _on(date(2026, 11, 12), {(T, None, date(2026, 10, 1))}, [SCHOOL, other]) == []


def test_months_outside_the_school_calendar_need_no_package():
    # July and August are no semester's months: nothing due in August or September for them
    assert [r.data["month"] for r in _on(date(2026, 8, 9))] == []
    assert [r.data["month"] for r in _on(date(2026, 9, 9))] == []
    assert [r.data["month"] for r in _on(date(2026, 10, 9))] == ["2026-09-01"]


def test_a_vocational_school_follows_its_own_semesters():
    own = School(V, V, "vocational_school", "vocational")
    assert CAL.semesters_for(own) == [GENERAL[3]]
    other = School("v-2", "v-2", "vocational_school", "vocational")
    assert CAL.semesters_for(other) == [GENERAL[2]]
    # a vocational school is its own tenant: its ladder ends with its director, and stops sooner
    (r,) = package_reminders(date(2026, 11, 16), CAL, [own], set(), POLICY)
    assert r.data["step"] == 1 and _who(r.audience) == [("school_coordinator", V), ("director", V)]
    assert package_reminders(date(2026, 11, 17), CAL, [own], set(), POLICY) == []
    assert package_reminders(date(2026, 11, 17), CAL, [SCHOOL], set(), POLICY)[0].data["step"] == 2


def _approved(on: date, preparer: str | None = "u-prep") -> PlanFacts:
    return PlanFacts("p-1", "IAP-1", T, S, preparer_id=preparer, approved_on=on)


def test_an_approved_plan_belongs_to_the_first_semester_ending_after_its_approval():
    assert plan_semester(_approved(date(2026, 8, 25)), SCHOOL, CAL) == GENERAL[0]
    assert plan_semester(_approved(date(2026, 12, 22)), SCHOOL, CAL) == GENERAL[0]
    assert plan_semester(_approved(date(2026, 12, 23)), SCHOOL, CAL) == GENERAL[1]
    assert plan_semester(_approved(date(2027, 6, 2)), SCHOOL, CAL) is None


def test_the_evaluation_is_due_a_week_before_and_on_the_last_day_of_the_semester():
    plans = [_approved(date(2026, 10, 1)), _approved(date(2026, 10, 1), preparer=None)]
    due = {
        d: [r.key for r in evaluation_reminders(date(2026, 12, d), CAL, plans, {S: SCHOOL}, POLICY)]
        for d in range(13, 24)
    }
    assert due[15] == ["evaluation_due:p-1:2026/2027-1:7"]
    assert due[21] == due[15]
    assert due[22] == ["evaluation_due:p-1:2026/2027-1:0"]
    assert due[14] == [] and due[23] == ["evaluation_overdue:p-1:2026/2027-1:0"]
    (r,) = evaluation_reminders(date(2026, 12, 15), CAL, plans, {S: SCHOOL}, POLICY)
    assert r.data["days_left"] == 7 and _who(r.audience) == [(None, None)] and r.audience[0].user_id == "u-prep"


def test_the_semester_plans_named_wins_over_the_approval_date():
    spring = PlanFacts("p-1", "IAP-1", T, S, preparer_id="u", approved_on=date(2026, 12, 10), semester="2026/2027-2")
    assert plan_semester(spring, SCHOOL, CAL) == GENERAL[1]
    unknown = PlanFacts("p-1", "IAP-1", T, S, preparer_id="u", approved_on=date(2026, 12, 10), semester="1999-1")
    assert plan_semester(unknown, SCHOOL, CAL) == GENERAL[0]  # a code the calendar lacks: the old rule


def _overdue(day: date, school: School = SCHOOL, policy: Policy = POLICY, **kw: object) -> list:  # type: ignore[type-arg]
    plan = PlanFacts(
        "p-1", "IAP-1", school.tenant_id, school.school_id, preparer_id="u-prep", approved_on=date(2026, 10, 1)
    )
    return evaluation_reminders(day, CAL, [plan], {school.school_id: school}, policy, **kw)  # type: ignore[arg-type]


def test_a_missing_evaluation_escalates_preparer_and_coordinator_then_director_then_municipality():
    steps = {}
    for d in range(23, 32):
        (r,) = _overdue(date(2026, 12, d)) or [None]  # type: ignore[list-item]
        steps[d] = None if r is None else (r.data["step"], r.audience[0].user_id, _who(r.audience[1:]))
    assert steps[23] == (0, "u-prep", [("school_coordinator", S)])
    assert steps[25] == steps[23]
    assert steps[26] == (1, "u-prep", [("school_coordinator", S), ("director", S)])
    assert steps[29] == (2, "u-prep", [("school_coordinator", S), ("director", S), ("municipality_coordinator", T)])
    assert steps[31] == steps[29]
    assert _overdue(date(2027, 1, 1)) == []  # every level was told
    (first,) = _overdue(date(2026, 12, 23))
    assert first.kind == "evaluation_overdue" and first.key == "evaluation_overdue:p-1:2026/2027-1:0"
    assert first.data["days_late"] == 1 and first.data["ends_on"] == "2026-12-22"


def test_a_vocational_schools_missing_evaluation_stops_at_its_director():
    own = School(V, V, "vocational_school", "vocational")  # its own semester ends on 29 January
    (r,) = _overdue(date(2027, 1, 30), own)
    assert r.data["step"] == 0 and _who(r.audience[1:]) == [("school_coordinator", V)]
    (r,) = _overdue(date(2027, 2, 2), own)
    assert r.data["step"] == 1 and _who(r.audience[1:]) == [("school_coordinator", V), ("director", V)]
    assert _overdue(date(2027, 2, 5), own) == []


def test_a_written_evaluation_ends_its_reminders_and_notices_and_the_days_come_from_the_policy():
    written = {("p-1", "2026/2027-1")}
    assert [_overdue(date(2026, 12, d), written=written) for d in (15, 22, 23, 26)] == [[], [], [], []]
    assert _overdue(date(2026, 12, 23), written={("p-1", "2026/2027-2")})  # another semester's does not count
    slow = Policy(evaluation_grace_days=2, evaluation_escalation_days=5)
    assert _overdue(date(2026, 12, 24), policy=slow) == []
    assert [r.data["step"] for d in (25, 29, 30) for r in _overdue(date(2026, 12, d), policy=slow)] == [0, 0, 1]


def _waiting(level: str, tenant_kind: str = "municipality") -> tuple[PlanFacts, dict[str, School]]:
    plan = PlanFacts("p-2", "IAP-2", T, S, level=level, since=datetime(2026, 11, 2, 8, tzinfo=UTC))
    return plan, {S: School(S, T, tenant_kind, "general")}


@pytest.mark.parametrize(
    ("level", "tenant_kind", "first", "then"),
    [
        ("director", "municipality", ("director", S), ("municipality_coordinator", T)),
        ("director", "vocational_school", ("director", S), ("platform_admin", None)),
        ("municipality", "municipality", ("municipality_coordinator", T), ("platform_admin", None)),
    ],
)
def test_a_plan_waiting_too_long_reminds_its_level_then_the_level_above(level, tenant_kind, first, then):
    plan, schools = _waiting(level, tenant_kind)
    assert approval_reminders(date(2026, 11, 7), [plan], schools, POLICY) == []  # 5 days: not yet
    (r,) = approval_reminders(date(2026, 11, 8), [plan], schools, POLICY)
    assert _who(r.audience) == [first] and r.data["days_waiting"] == 6 and r.data["step"] == 0
    (r,) = approval_reminders(date(2026, 11, 11), [plan], schools, POLICY)
    assert _who(r.audience) == [first, then] and r.data["step"] == 1
    (later,) = approval_reminders(date(2026, 11, 30), [plan], schools, POLICY)
    assert later.key == r.key  # the top of the ladder is told once


def test_a_plan_waiting_at_ikvd_reminds_the_platform_admins_only():
    plan, schools = _waiting("ikvd")
    (r,) = approval_reminders(date(2026, 11, 20), [plan], schools, POLICY)
    assert _who(r.audience) == [("platform_admin", None)]
