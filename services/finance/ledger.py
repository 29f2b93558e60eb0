"""The double-funding ledger and the sums the rules compare against.

Every claim that still counts (not replaced by a newer version of its document) is in the ledger with the
file's SHA-256 and the student's keyed hash. Matching across tenants compares only those two values;
what comes back about another tenant is a yes or no, never its documents, students or name.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, load_only

from services.common.contracts.documents import COMPENSATION_CATEGORIES

from .budgets import consultations_owed, preparation_owed
from .models import ACCEPTED, REJECTED, Claim, Consultation, PlanRM, TenantRM
from .programme import InForce, Programme, money
from .rules import Matches, Sums


def serialise(session: Session, *keys: str) -> None:
    """Hold transaction-scoped locks on these keys: two deliveries about the same thing run one after the other."""
    for key in sorted(keys):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


def lock(session: Session, claim: Claim) -> None:
    """Serialise checks that could match each other (same bytes, same student-category-month) until commit."""
    keys = [f"sha:{claim.sha256}"]
    if claim.student_key:
        keys.append(f"scm:{claim.student_key}:{claim.category}:{claim.month.isoformat()}")
    serialise(session, *keys)


def matches(session: Session, claim: Claim) -> Matches:
    others = (Claim.document_id != claim.document_id, Claim.superseded.is_(False), Claim.id != claim.id)
    same_bytes = session.execute(
        select(Claim.tenant_id, Claim.document_id)
        .where(Claim.sha256 == claim.sha256, Claim.status != REJECTED, *others)
        .order_by(Claim.created_at)
        .limit(50)
    ).all()
    same_month: list[tuple[uuid.UUID, uuid.UUID]] = []
    if claim.student_key:
        same_month = [
            (r.tenant_id, r.document_id)
            for r in session.execute(
                select(Claim.tenant_id, Claim.document_id)
                .where(
                    Claim.student_key == claim.student_key,
                    Claim.category == claim.category,
                    Claim.month == claim.month,
                    Claim.status == ACCEPTED,
                    *others,
                )
                .order_by(Claim.created_at)
                .limit(50)
            ).all()
        ]
    here = claim.tenant_id
    return Matches(
        same_bytes_here=tuple(dict.fromkeys(str(d) for t, d in same_bytes if t == here)),
        same_bytes_elsewhere=any(t != here for t, _ in same_bytes),
        same_month_here=tuple(dict.fromkeys(str(d) for t, d in same_month if t == here)),
        same_month_elsewhere=any(t != here for t, _ in same_month),
    )


def _accepted(session: Session, *where: Any) -> Decimal:
    total = session.execute(
        select(func.coalesce(func.sum(Claim.amount), 0)).where(
            Claim.status == ACCEPTED, Claim.superseded.is_(False), *where
        )
    ).scalar_one()
    return money(total)


def tenant_used(session: Session, tenant_id: uuid.UUID, semester: str, exclude: uuid.UUID | None = None) -> Decimal:
    """Accepted compensations, delivered hours and preparation of the tenant's plans of one semester."""
    plans = select(PlanRM.id).where(PlanRM.tenant_id == tenant_id, PlanRM.semester == semester)
    claims = _accepted(
        session,
        Claim.plan_id.in_(plans),
        Claim.category.in_(COMPENSATION_CATEGORIES),
        *((Claim.id != exclude,) if exclude else ()),
    )
    hours = money(
        session.execute(
            select(func.coalesce(func.sum(Consultation.amount), 0)).where(Consultation.plan_id.in_(plans))
        ).scalar_one()
    )
    started = session.execute(
        select(PlanRM)
        .where(PlanRM.tenant_id == tenant_id, PlanRM.semester == semester, PlanRM.started_on.isnot(None))
        # only what preparation_owed reads: not the measures, a JSON document per plan
        .options(load_only(PlanRM.started_on, PlanRM.prepared_on, PlanRM.preparation_hours))
    ).scalars()
    # every check runs this over all of the tenant's plans: the settings are read once, not once a plan
    in_force = InForce(session)
    return claims + hours + sum((preparation_owed(session, p, in_force) for p in started), Decimal("0.00"))


def sums(session: Session, claim: Claim, plan: PlanRM | None, prog: Programme) -> Sums:
    if plan is None:
        return Sums()
    same = (Claim.plan_id == plan.id, Claim.category == claim.category, Claim.id != claim.id)
    owed = Decimal("0.00")
    if claim.category == "consultations":
        owed = consultations_owed(session, plan.id, claim.month)
    elif claim.category == "plan_preparation" and plan.started_on and plan.started_on.replace(day=1) == claim.month:
        owed = preparation_owed(session, plan)
    tenant = session.get(TenantRM, claim.tenant_id)
    budget = None
    if tenant is not None:
        budget = prog.tenant_budget(tenant.id, plan.semester, tenant.student_count)
    return Sums(
        plan_category_accepted=_accepted(session, *same),
        plan_category_month_accepted=_accepted(session, *same, Claim.month == claim.month),
        owed_this_month=owed,
        tenant_used=tenant_used(session, claim.tenant_id, plan.semester, exclude=claim.id),
        tenant_budget=budget,
    )
