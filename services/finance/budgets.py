"""Money per plan: what is owed (accepted claims, consultation hours at the day's rate, preparation), what an
approved plan reserves of its tenant's semester budget, and when the unused part is released."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.contracts.documents import COMPENSATION_CATEGORIES
from services.common.messaging import Outbox

from . import programme
from .models import ACCEPTED, BudgetEvent, Claim, Consultation, PlanRM, Reservation
from .programme import money
from .rules import month_end

log = structlog.get_logger(__name__)

RIGA = ZoneInfo("Europe/Riga")
ZERO = Decimal("0.00")
RESERVING = frozenset({"approved", "in_progress"})
HELD, RELEASED = "held", "released"


def today() -> date:
    """The school calendar's date (Europe/Riga)."""
    return datetime.now(RIGA).date()


def preparation_owed(session: Session, plan: PlanRM, in_force: programme.InForce | None = None) -> Decimal:
    """Preparation hours × the preparation rate in force on the day the plan was prepared, once it started.

    A read over many plans passes one `in_force` for all of them, so the settings are read once.
    """
    if plan.started_on is None or plan.preparation_hours <= 0:
        return ZERO
    prog = in_force(plan.prepared_on) if in_force else programme.in_force(session, plan.prepared_on)
    return preparation_amount(plan.preparation_hours, prog)


def preparation_amount(hours: Decimal, prog: programme.Programme) -> Decimal:
    """What a started plan's preparation hours are owed under the settings of the day it was prepared."""
    return money(hours * prog.preparation_rate)


def accepted_claims(session: Session, plan_id: uuid.UUID) -> Decimal:
    total = session.execute(
        select(func.coalesce(func.sum(Claim.amount), 0)).where(
            Claim.plan_id == plan_id,
            Claim.status == ACCEPTED,
            Claim.superseded.is_(False),
            Claim.category.in_(COMPENSATION_CATEGORIES),
        )
    ).scalar_one()
    return money(total)


def consultations_owed(session: Session, plan_id: uuid.UUID, month: date | None = None) -> Decimal:
    query = select(func.coalesce(func.sum(Consultation.amount), 0)).where(Consultation.plan_id == plan_id)
    if month is not None:
        query = query.where(Consultation.held_on.between(month, month_end(month)))
    return money(session.execute(query).scalar_one())


def paid_so_far(session: Session, plan: PlanRM) -> Decimal:
    """Everything owed for the plan: accepted compensations, delivered hours, preparation."""
    return accepted_claims(session, plan.id) + consultations_owed(session, plan.id) + preparation_owed(session, plan)


def money_changed(session: Session, outbox: Outbox, plan_id: uuid.UUID) -> None:
    """Recompute what is owed for a plan; tell plans when it moved; keep the reservation in step."""
    plan = session.get(PlanRM, plan_id, with_for_update=True)
    if plan is None:
        return
    paid = paid_so_far(session, plan)
    if paid != plan.paid_so_far:
        plan.paid_so_far = paid
        plan.paid_revision += 1
        outbox.publish(
            session,
            "plans.plan_paid",
            {"plan_id": str(plan.id), "paid_so_far": str(paid), "revision": plan.paid_revision},
        )
    reconcile(session, plan)


def reconcile(session: Session, plan: PlanRM, on: date | None = None) -> None:
    """Hold an approved plan's financing; release the unused part on suspension, deletion or semester end."""
    on = on or today()
    res = session.get(Reservation, plan.id, with_for_update=True)
    used = plan.paid_so_far
    planned = plan.planned_financing or ZERO
    over = on > plan.semester_end
    if plan.status in RESERVING and not over:
        hold = max(planned, used)
        if res is None:
            res = Reservation(
                plan_id=plan.id, tenant_id=plan.tenant_id, semester=plan.semester, reserved=hold, released=ZERO
            )
            res.state, res.reason = HELD, plan.status
            session.add(res)
            _event(session, plan, "reserve", hold, plan.status)
        elif res.state == RELEASED:
            res.state, res.reason, res.reserved, res.released = HELD, plan.status, hold, ZERO
            _event(session, plan, "reserve", hold, plan.status)
        elif res.reserved != hold:
            _event(session, plan, "adjust", hold - res.reserved, "financing_changed")
            res.reserved = hold
        return
    if plan.status == "under_review" and not over:
        return  # reopened for changes: the hold stays until it is approved again, suspended or deleted
    if res is not None and res.state == HELD:
        reason = "semester_ended" if over and plan.status in RESERVING | {"under_review"} else plan.status
        unused = max(res.reserved - used, ZERO)
        res.state, res.reason, res.reserved, res.released = RELEASED, reason, used, unused
        _event(session, plan, "release", unused, reason)
        log.info("reservation_released", plan_id=str(plan.id), amount=str(unused), reason=reason)


def _event(session: Session, plan: PlanRM, kind: str, amount: Decimal, reason: str) -> None:
    session.add(
        BudgetEvent(
            plan_id=plan.id, tenant_id=plan.tenant_id, semester=plan.semester, kind=kind, amount=amount, reason=reason
        )
    )


def release_ended(session: Session, on: date | None = None) -> int:
    """Release the unused part of every reservation whose semester has ended; returns how many."""
    on = on or today()
    rows = session.execute(
        select(PlanRM)
        .join(Reservation, Reservation.plan_id == PlanRM.id)
        .where(Reservation.state == HELD, PlanRM.semester_end < on)
    ).scalars()
    count = 0
    for plan in rows:
        reconcile(session, plan, on)
        count += 1
    return count
