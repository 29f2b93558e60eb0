"""Which reminders and overdue notices are due on a given day: pure rules over plain facts.

Every reminder has a key naming its item and its window (or escalation step), so running the job
every hour, or again after a missed day, tells each person once per window. `today` is always given:
the scheduled job passes the real date, tests pass the day they want.
"""

from __future__ import annotations

import calendar as cal
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .audience import Audience, approval_ladder, escalation_step, school_ladder

RIGA = ZoneInfo("Europe/Riga")


@dataclass(frozen=True)
class Semester:
    code: str
    school_type: str  # general | vocational
    starts_on: date
    ends_on: date
    tenant_id: str | None = None  # a vocational school's own semester


@dataclass(frozen=True)
class Calendar:
    deadline_day: int
    semesters: tuple[Semester, ...]

    def semesters_for(self, school: School) -> list[Semester]:
        """The school's semesters: its tenant's own (vocational schools set theirs), else its type's."""
        own = [s for s in self.semesters if s.school_type == school.kind and s.tenant_id == school.tenant_id]
        common = [s for s in self.semesters if s.school_type == school.kind and s.tenant_id is None]
        return sorted(own or common, key=lambda s: s.ends_on)


@dataclass(frozen=True)
class School:
    school_id: str
    tenant_id: str
    tenant_kind: str  # municipality | vocational_school
    kind: str  # general | vocational
    name: str = ""


@dataclass(frozen=True)
class PlanFacts:
    plan_id: str
    code: str
    tenant_id: str
    school_id: str
    level: str | None = None
    since: datetime | None = None
    preparer_id: str | None = None
    approved_on: date | None = None
    semester: str | None = None  # the plan's semester code, when plans said


@dataclass(frozen=True)
class Policy:
    days_before: tuple[int, ...] = (5, 1)
    escalation_days: int = 3
    evaluation_days_before: int = 7
    # a missing evaluation is overdue this many days after the semester's last day, then escalates
    evaluation_grace_days: int = 0
    evaluation_escalation_days: int = 3
    approval_wait_days: int = 5


@dataclass(frozen=True)
class Reminder:
    kind: str
    key: str
    tenant_id: str
    school_id: str | None
    ref_id: str
    data: dict[str, Any]
    audience: list[Audience] = field(default_factory=list)


def _first(d: date) -> date:
    return d.replace(day=1)


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, 1)


def deadline_of(month: date, deadline_day: int) -> date:
    """A month's expense package is due on `deadline_day` of the following month."""
    nxt = _add_months(month, 1)
    return nxt.replace(day=min(deadline_day, cal.monthrange(nxt.year, nxt.month)[1]))


def _overlaps(month: date, semesters: list[Semester]) -> bool:
    last = month.replace(day=cal.monthrange(month.year, month.month)[1])
    return any(s.starts_on <= last and s.ends_on >= month for s in semesters)


def window(days_left: int, windows: tuple[int, ...]) -> int | None:
    """The reminder window a day falls in: the smallest `n` with days_left <= n (None: too early or past)."""
    if days_left < 0:
        return None
    inside = [n for n in windows if days_left <= n]
    return min(inside) if inside else None


def overdue_step(days_overdue: int, every_days: int, ladder: list[Audience]) -> int | None:
    """The escalation step of an item overdue for `days_overdue` days (0 = the first day), one step every
    `every_days`; None once every level has been told (nothing new to say)."""
    if days_overdue < 0 or days_overdue >= len(ladder) * max(1, every_days):
        return None
    return escalation_step(days_overdue, every_days, len(ladder))


def package_reminders(
    today: date, calendar: Calendar, schools: list[School], received: set[tuple[str, str | None, date]], policy: Policy
) -> list[Reminder]:
    """Deadline reminders before the day and overdue notices after it, for packages not yet received."""
    out: list[Reminder] = []
    for school in schools:
        semesters = calendar.semesters_for(school)
        for back in range(0, 4):
            month = _add_months(_first(today), -back)
            if not _overlaps(month, semesters):
                continue
            if (school.tenant_id, school.school_id, month) in received or (school.tenant_id, None, month) in received:
                continue
            deadline = deadline_of(month, calendar.deadline_day)
            base = {
                "tenant_id": school.tenant_id,
                "school_id": school.school_id,
                "school_name": school.name,
                "month": month.isoformat(),
                "deadline": deadline.isoformat(),
            }
            ref = f"{school.school_id}:{month.isoformat()}"
            if today <= deadline:
                n = window((deadline - today).days, policy.days_before)
                if n is not None:
                    out.append(
                        Reminder(
                            "deadline_reminder",
                            f"deadline_reminder:{school.school_id}:{month.isoformat()}:{n}",
                            school.tenant_id,
                            school.school_id,
                            ref,
                            {**base, "days_left": (deadline - today).days},
                            school_ladder(school.tenant_id, school.school_id, school.tenant_kind)[:1],
                        )
                    )
                continue
            days_overdue = (today - deadline).days - 1
            ladder = school_ladder(school.tenant_id, school.school_id, school.tenant_kind)
            step = overdue_step(days_overdue, policy.escalation_days, ladder)
            if step is None:
                continue
            out.append(
                Reminder(
                    "deadline_overdue",
                    f"deadline_overdue:{school.school_id}:{month.isoformat()}:{step}",
                    school.tenant_id,
                    school.school_id,
                    ref,
                    {**base, "days_late": days_overdue + 1, "step": step},
                    ladder[: step + 1],
                )
            )
    return out


def plan_semester(plan: PlanFacts, school: School, calendar: Calendar) -> Semester | None:
    """An approved plan's semester: the one plans named, else the first of its school's that ends on or
    after approval (messages from before plans named it)."""
    if plan.approved_on is None:
        return None
    semesters = calendar.semesters_for(school)
    if plan.semester is not None:
        named = [s for s in semesters if s.code == plan.semester]
        if named:
            return named[0]
    for s in semesters:
        if s.ends_on >= plan.approved_on:
            return s
    return None


def evaluation_reminders(
    today: date,
    calendar: Calendar,
    plans: list[PlanFacts],
    schools: dict[str, School],
    policy: Policy,
    written: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> list[Reminder]:
    """Semester evaluations not yet written (`written` holds (plan id, semester code)): the preparer is
    reminded before and on the semester's last day; after it, overdue notices escalate like an overdue
    package: the preparer and the school's coordinator, then the director, then the municipality."""
    out: list[Reminder] = []
    windows = (policy.evaluation_days_before, 0)
    for plan in plans:
        school = schools.get(plan.school_id)
        if school is None or plan.preparer_id is None:
            continue
        semester = plan_semester(plan, school, calendar)
        if semester is None or (plan.plan_id, semester.code) in written:
            continue
        base = {
            "plan_id": plan.plan_id,
            "code": plan.code,
            "semester": semester.code,
            "ends_on": semester.ends_on.isoformat(),
        }
        days_left = (semester.ends_on - today).days
        if days_left >= 0:
            n = window(days_left, windows)
            if n is not None:
                out.append(
                    Reminder(
                        "evaluation_due",
                        f"evaluation_due:{plan.plan_id}:{semester.code}:{n}",
                        plan.tenant_id,
                        plan.school_id,
                        plan.plan_id,
                        {**base, "days_left": days_left},
                        [Audience.user(plan.preparer_id)],
                    )
                )
            continue
        days_overdue = -days_left - 1 - policy.evaluation_grace_days
        ladder = school_ladder(plan.tenant_id, plan.school_id, school.tenant_kind)
        step = overdue_step(days_overdue, policy.evaluation_escalation_days, ladder)
        if step is None:
            continue
        out.append(
            Reminder(
                "evaluation_overdue",
                f"evaluation_overdue:{plan.plan_id}:{semester.code}:{step}",
                plan.tenant_id,
                plan.school_id,
                plan.plan_id,
                {**base, "days_late": -days_left, "step": step, "school_name": school.name},
                [Audience.user(plan.preparer_id), *ladder[: step + 1]],
            )
        )
    return out


def approval_reminders(
    today: date, plans: list[PlanFacts], schools: dict[str, School], policy: Policy
) -> list[Reminder]:
    """Plans waiting in one level longer than allowed: that level's approvers, then the level above."""
    out: list[Reminder] = []
    for plan in plans:
        if plan.since is None or plan.level is None:
            continue
        school = schools.get(plan.school_id)
        tenant_kind = school.tenant_kind if school else "municipality"
        days_waiting = (today - plan.since.astimezone(RIGA).date()).days
        if days_waiting <= policy.approval_wait_days:
            continue
        ladder = approval_ladder(plan.level, plan.tenant_id, plan.school_id, tenant_kind)
        step = escalation_step(days_waiting - policy.approval_wait_days - 1, policy.escalation_days, len(ladder))
        out.append(
            Reminder(
                "approval_overdue",
                f"approval_overdue:{plan.plan_id}:{plan.level}:{plan.since.isoformat()}:{step}",
                plan.tenant_id,
                plan.school_id,
                plan.plan_id,
                {
                    "plan_id": plan.plan_id,
                    "code": plan.code,
                    "level": plan.level,
                    "since": plan.since.isoformat(),
                    "days_waiting": days_waiting,
                    "step": step,
                    "school_name": school.name if school else "",
                },
                ladder[: step + 1],
            )
        )
    return out
