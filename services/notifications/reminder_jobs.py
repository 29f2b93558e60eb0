"""The daily reminder job: read the facts from the read models, ask `reminders` what is due, tell people."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.messaging import Outbox

from . import reminders
from .dispatch import Intent, notify
from .models import CalendarRM, EvaluationWritten, PackageReceived, SchoolRM, TenantRM, WaitingPlan
from .reminders import Calendar, PlanFacts, Policy, School, Semester
from .settings import NotificationsSettings


def policy_of(settings: NotificationsSettings) -> Policy:
    return Policy(
        days_before=settings.reminder_days_before,
        escalation_days=settings.escalation_days,
        evaluation_days_before=settings.evaluation_days_before,
        evaluation_grace_days=settings.evaluation_grace_days,
        evaluation_escalation_days=settings.evaluation_escalation_days,
        approval_wait_days=settings.approval_wait_days,
    )


def current_calendar(session: Session) -> Calendar | None:
    row = session.execute(select(CalendarRM).order_by(CalendarRM.revision.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        return None
    return Calendar(
        row.deadline_day,
        tuple(
            Semester(
                s["code"],
                s["school_type"],
                date.fromisoformat(s["starts_on"]),
                date.fromisoformat(s["ends_on"]),
                s.get("tenant_id"),
            )
            for s in row.semesters
        ),
    )


def active_schools(session: Session) -> list[School]:
    rows = session.execute(
        select(SchoolRM, TenantRM.kind)
        .join(TenantRM, TenantRM.id == SchoolRM.tenant_id)
        .where(SchoolRM.active.is_(True), TenantRM.active.is_(True))
        .order_by(SchoolRM.id)
    ).all()
    return [School(str(s.id), str(s.tenant_id), kind, s.kind, s.name) for s, kind in rows]


def _facts(p: WaitingPlan) -> PlanFacts:
    return PlanFacts(
        plan_id=str(p.plan_id),
        code=p.code,
        tenant_id=str(p.tenant_id),
        school_id=str(p.school_id),
        level=p.level,
        since=p.since,
        preparer_id=str(p.preparer_id) if p.preparer_id else None,
        approved_on=p.approved_on,
        semester=p.semester,
    )


def due_reminders(session: Session, settings: NotificationsSettings, today: date) -> list[reminders.Reminder]:
    """Every reminder due on `today`, from what the read models hold now."""
    policy = policy_of(settings)
    schools = active_schools(session)
    by_id = {s.school_id: s for s in schools}
    waiting = session.execute(select(WaitingPlan).where(WaitingPlan.status == "waiting")).scalars()
    due = reminders.approval_reminders(today, [_facts(p) for p in waiting], by_id, policy)
    calendar = current_calendar(session)
    if calendar is None:
        return due  # no calendar from finance yet: no deadlines or semesters to remind of
    since = today - timedelta(days=130)
    received = {
        (str(r.tenant_id), str(r.school_id) if r.school_id else None, r.month)
        for r in session.execute(select(PackageReceived).where(PackageReceived.month >= since.replace(day=1))).scalars()
    }
    due += reminders.package_reminders(today, calendar, schools, received, policy)
    recent = (WaitingPlan.status == "approved", WaitingPlan.approved_on >= today - timedelta(days=400))
    approved = session.execute(select(WaitingPlan).where(*recent)).scalars()
    written = session.execute(
        select(EvaluationWritten.plan_id, EvaluationWritten.semester)
        .join(WaitingPlan, WaitingPlan.plan_id == EvaluationWritten.plan_id)
        .where(*recent)
    ).all()
    due += reminders.evaluation_reminders(
        today, calendar, [_facts(p) for p in approved], by_id, policy, {(str(p), s) for p, s in written}
    )
    return due


def send_reminders(session: Session, outbox: Outbox, settings: NotificationsSettings, today: date) -> int:
    """Tell people what is due on `today`; returns how many notifications were new."""
    made = 0
    for r in due_reminders(session, settings, today):
        outcome = notify(
            session,
            outbox,
            settings.link_base_url,
            Intent(
                kind=r.kind,
                key=r.key,
                data=r.data,
                audience=r.audience,
                tenant_id=r.tenant_id,
                school_id=r.school_id,
                ref_id=r.ref_id,
            ),
        )
        made += outcome.notification_id is not None
    return made
