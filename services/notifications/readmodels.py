"""Keep notifications' copies of other services' facts: tenants, users, the calendar, plans in approval,
and the expense packages finance has received."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.db import utcnow

from .models import CalendarRM, PackageReceived, Recipient, SchoolRM, TenantRM, WaitingPlan

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
    current = session.get(TenantRM, p["tenant_id"], with_for_update=True)
    if current is not None and current.revision >= p["revision"]:
        return
    if current is None:
        current = TenantRM(id=p["tenant_id"])
        session.add(current)
    current.kind, current.name, current.region = p["kind"], p["name"], p["region"]
    current.active, current.revision = p["active"], p["revision"]
    for s in p["schools"]:
        school = session.get(SchoolRM, s["school_id"]) or SchoolRM(id=s["school_id"])
        school.tenant_id, school.name, school.kind, school.active = p["tenant_id"], s["name"], s["kind"], s["active"]
        session.add(school)


def sync_user(session: Session, p: dict[str, Any]) -> None:
    """Replace a user's address, language and grants, unless we already hold a newer revision."""
    current = session.get(Recipient, p["user_id"], with_for_update=True)
    if current is not None and current.revision >= p["revision"]:
        return
    if current is None:
        current = Recipient(id=p["user_id"])
        session.add(current)
    current.tenant_id, current.email, current.full_name = p["tenant_id"], p["email"], p["full_name"]
    current.language, current.active, current.revision = p["language"], p["active"], p["revision"]
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
    plan = session.get(WaitingPlan, p["plan_id"], with_for_update=True)
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


def plan_decided(session: Session, p: dict[str, Any], status: str, now: datetime | None = None) -> None:
    """A plan was sent back or approved: it waits no more (approved plans are kept for evaluations)."""
    now = now or utcnow()
    plan = session.get(WaitingPlan, p["plan_id"], with_for_update=True)
    if plan is None:
        plan = WaitingPlan(plan_id=p["plan_id"])
        session.add(plan)
    plan.code, plan.tenant_id, plan.school_id = p["code"], p["tenant_id"], p["school_id"]
    plan.status, plan.closed_at, plan.preparer_id = status, now, p["preparer_id"]
    plan.approved_on = now.astimezone(RIGA).date() if status == "approved" else None
