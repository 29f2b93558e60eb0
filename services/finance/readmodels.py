"""Finance's copies of other services' facts: tenants and schools (identity), plans and delivered hours (plans).

A plan snapshot moves money: an approved plan reserves, a suspended or deleted one releases, the first day in
progress makes its preparation owed, and claims that were waiting on the plan are checked again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.messaging import Outbox

from . import budgets, checks, programme
from .ledger import serialise
from .models import ACCEPTED, Claim, Consultation, PlanRM, SchoolRM, TenantRM
from .programme import money


def sync_tenant(session: Session, outbox: Outbox, p: dict[str, Any]) -> None:
    serialise(session, f"tenant:{p['tenant_id']}")
    current = session.get(TenantRM, p["tenant_id"], with_for_update=True)
    if current is not None and current.revision >= p["revision"]:
        return
    if current is None:
        current = TenantRM(id=p["tenant_id"])
        session.add(current)
    current.kind, current.name, current.region = p["kind"], p["name"], p["region"]
    current.registration_number = p.get("registration_number") or current.registration_number
    current.student_count, current.active, current.revision = p["student_count"], p["active"], p["revision"]
    for s in p["schools"]:
        school = session.get(SchoolRM, s["school_id"]) or SchoolRM(id=s["school_id"])
        school.tenant_id, school.name, school.kind = p["tenant_id"], s["name"], s["kind"]
        school.student_count, school.active = s["student_count"], s["active"]
        session.add(school)


PLAN_FIELDS = (
    "code",
    "tenant_id",
    "school_id",
    "student_id",
    "student_key",
    "semester",
    "semester_start",
    "semester_end",
    "status",
    "prepared_on",
)


def sync_plan(session: Session, outbox: Outbox, p: dict[str, Any]) -> None:
    """Replace the plan's copy when the snapshot is newer; move reservations and re-check waiting claims."""
    serialise(session, f"plan:{p['plan_id']}")
    plan = session.get(PlanRM, p["plan_id"], with_for_update=True)
    if plan is not None and plan.revision >= p["revision"]:
        return
    before = (plan.status, plan.measures, plan.prepared_on) if plan is not None else None
    if plan is None:
        plan = PlanRM(id=p["plan_id"], paid_so_far=money(0), paid_revision=0)
        session.add(plan)
    for key in PLAN_FIELDS:
        setattr(plan, key, p[key])
    plan.revision = p["revision"]
    plan.preparation_hours = p["preparation_hours"]
    plan.planned_financing = money(p["planned_financing"]) if p["planned_financing"] is not None else None
    plan.measures = [
        {k: (str(v) if v is not None and not isinstance(v, str) else v) for k, v in m.items()} for m in p["measures"]
    ]
    if plan.status == "in_progress" and plan.started_on is None:
        plan.started_on = budgets.today()
    session.flush()
    budgets.money_changed(session, outbox, plan.id)
    if before != (plan.status, plan.measures, plan.prepared_on):
        waiting = list(
            session.execute(
                select(Claim).where(Claim.plan_id == plan.id, Claim.superseded.is_(False), Claim.status != ACCEPTED)
            ).scalars()
        )
        if waiting:
            checks.recheck(
                session,
                outbox,
                waiting,
                "plan",
                reason=(
                    f"Plāns {plan.code} mainījās (statuss: {plan.status}).",
                    f"Plan {plan.code} changed (status: {plan.status}).",
                ),
            )


def consultation_delivered(session: Session, outbox: Outbox, p: dict[str, Any]) -> None:
    """Record hours delivered, priced at the rate in force on the day they were held."""
    serialise(session, f"plan:{p['plan_id']}")
    row = session.get(Consultation, p["consultation_id"], with_for_update=True)
    if row is None:
        row = Consultation(id=p["consultation_id"])
        session.add(row)
    for key in ("tenant_id", "school_id", "plan_id", "measure_id", "provider_type", "held_on", "hours", "mode"):
        setattr(row, key, p[key])
    price(session, row)
    session.flush()
    budgets.money_changed(session, outbox, row.plan_id)


def price(session: Session, row: Consultation) -> None:
    with session.no_autoflush:  # the row may be new and not yet priced
        prog = programme.in_force(session, row.held_on)
    rate = prog.rates.get(row.provider_type)
    row.rate = rate
    row.amount = money(row.hours * rate) if rate is not None else money(0)
    row.settings_revision = prog.revision
