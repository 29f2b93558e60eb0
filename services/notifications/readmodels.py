"""Keep notifications' copies of other services' facts: tenants, users, the calendar, plans in approval,
the expense packages finance has received, and the semester evaluations plans has had written."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.readmodel import newer_row

from .models import CalendarRM, EvaluationWritten, PackageReceived, Recipient, SchoolRM, TenantRM, WaitingPlan

RIGA = ZoneInfo("Europe/Riga")


def json_ready(value: Any) -> Any:
    """A loaded payload back to JSON values (ids, dates and amounts as strings)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # Decimal


def sync_tenant(session: Session, p: dict[str, Any]) -> None:
    """Replace a tenant and its schools, unless we already hold a newer revision."""
    current = newer_row(session, TenantRM, p["tenant_id"], p["revision"])
    if current is None:
        return
    current.kind, current.name, current.region, current.active = p["kind"], p["name"], p["region"], p["active"]
    for s in p["schools"]:
        school = session.get(SchoolRM, s["school_id"]) or SchoolRM(id=s["school_id"])
        school.tenant_id, school.name, school.kind, school.active = p["tenant_id"], s["name"], s["kind"], s["active"]
        session.add(school)


def sync_user(session: Session, p: dict[str, Any]) -> None:
    """Replace a user's address, language and grants, unless we already hold a newer revision."""
    current = newer_row(session, Recipient, p["user_id"], p["revision"])
    if current is None:
        return
    current.tenant_id, current.email, current.full_name = p["tenant_id"], p["email"], p["full_name"]
    current.language, current.active = p["language"], p["active"]
    current.roles = [
        {k: json_ready(grant.get(k)) for k in ("role", "tenant_id", "school_id", "region")} for grant in p["roles"]
    ]


def sync_calendar(session: Session, p: dict[str, Any]) -> None:
    """Keep finance's calendar revision; the newest one is in force."""
    session.execute(
        pg_insert(CalendarRM)
        .values(revision=p["revision"], deadline_day=p["deadline_day"], semesters=json_ready(p["semesters"]))
        .on_conflict_do_nothing()
    )
    old = select(CalendarRM.revision).order_by(CalendarRM.revision.desc()).offset(10)
    session.execute(delete(CalendarRM).where(CalendarRM.revision.in_(old)))


def package_received(session: Session, p: dict[str, Any]) -> None:
    session.execute(
        pg_insert(PackageReceived)
        .values(tenant_id=p["tenant_id"], school_id=p.get("school_id"), month=p["month"].replace(day=1))
        .on_conflict_do_nothing(constraint="uq_packages_received")
    )


def plan_waiting(session: Session, p: dict[str, Any]) -> bool:
    """A plan now waits at a level since a time; False when the message is older than what we know."""
    plan = _locked_plan(session, p["plan_id"])
    if plan is not None:
        newest = plan.since if plan.status == "waiting" else plan.closed_at
        if newest is not None and newest >= p["since"]:
            return False  # a late message: the plan has moved on since
    else:
        plan = WaitingPlan(plan_id=p["plan_id"])
        session.add(plan)
    plan.code, plan.tenant_id, plan.school_id = p["code"], p["tenant_id"], p["school_id"]
    plan.status, plan.level, plan.since, plan.closed_at = "waiting", p["level"], p["since"], None
    return True


def plan_decided(session: Session, p: dict[str, Any], status: str, now: datetime | None = None) -> bool:
    """A plan was sent back or approved: it waits no more (approved plans are kept for evaluations).

    Ordered by the decision time plans sends: False, changing nothing, when we already hold something as
    new (a newer wait after the plan was sent back and resubmitted, or a newer approval). A message from
    before the field existed is placed at its arrival.
    """
    at: datetime = p.get("decided_at") or now or utcnow()
    plan = _locked_plan(session, p["plan_id"])
    if plan is not None:
        newest = plan.since if plan.status == "waiting" else plan.closed_at
        if newest is not None and newest >= at:
            return False  # a late message: the plan has moved on since
    else:
        plan = WaitingPlan(plan_id=p["plan_id"])
        session.add(plan)
    plan.code, plan.tenant_id, plan.school_id = p["code"], p["tenant_id"], p["school_id"]
    plan.status, plan.closed_at, plan.preparer_id = status, at, p["preparer_id"]
    plan.approved_on = at.astimezone(RIGA).date() if status == "approved" else None
    plan.semester = p.get("semester") or plan.semester
    return True


def evaluation_written(session: Session, p: dict[str, Any]) -> None:
    """Record that a plan's semester evaluation is written; a copy no newer than ours changes nothing.

    Not `newer_row`: the key is (plan, semester) and the order is a time, not a revision; one upsert with
    a condition is atomic, so two copies at once need no lock.
    """
    values = {
        "plan_id": p["plan_id"],
        "semester": p["semester"],
        "tenant_id": p["tenant_id"],
        "school_id": p["school_id"],
        "written_at": p["written_at"],
    }
    insert = pg_insert(EvaluationWritten).values(**values)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["plan_id", "semester"],
            set_={k: insert.excluded[k] for k in ("tenant_id", "school_id", "written_at")},
            where=EvaluationWritten.written_at < insert.excluded.written_at,
        )
    )


def _locked_plan(session: Session, plan_id: uuid.UUID) -> WaitingPlan | None:
    # two messages about a plan we have not seen may arrive at once: the second waits for the first
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"waiting_plans:{plan_id}"))))
    return session.get(WaitingPlan, plan_id, with_for_update=True)
