"""The money overview of a semester: per tenant (budget, reserved, claimed, accepted, paid, by category),
summed per region for the regional coordinator and across all for the platform admin.

Each figure is one grouped query over all the tenants asked for, not a query per tenant.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from services.common.contracts.documents import COMPENSATION_CATEGORIES

from . import budgets, programme
from .models import ACCEPTED, Claim, Consultation, PlanRM, Reservation, TenantRM

ZERO = Decimal("0.00")
FIGURES = ("budget", "reserved", "released", "claimed", "accepted", "paid", "remaining")
CATEGORIES = (*COMPENSATION_CATEGORIES, "consultations", "plan_preparation")


def _cat() -> dict[str, Decimal]:
    return {"claimed": ZERO, "accepted": ZERO, "paid": ZERO}


def tenants(
    session: Session, semester: str, tenant_ids: list[uuid.UUID] | None = None, region: str | None = None
) -> list[dict[str, Any]]:
    """One row per tenant for the semester."""
    query = select(TenantRM).order_by(TenantRM.name, TenantRM.id)
    if tenant_ids is not None:
        query = query.where(TenantRM.id.in_(tenant_ids))
    if region is not None:
        query = query.where(TenantRM.region == region)
    rows = list(session.execute(query).scalars())
    ids = [t.id for t in rows]
    if not ids:
        return []
    in_force = programme.InForce(session)  # the settings, read once for every plan and tenant
    plan_ids = select(PlanRM.id).where(PlanRM.semester == semester, PlanRM.tenant_id.in_(ids))
    cats: dict[uuid.UUID, dict[str, dict[str, Decimal]]] = defaultdict(lambda: {c: _cat() for c in CATEGORIES})
    for tenant_id, category, status, amount in session.execute(
        select(Claim.tenant_id, Claim.category, Claim.status, func.sum(Claim.amount))
        # the tenant filter changes nothing (rows of other tenants are not reported) but lets the
        # tenant's index narrow the claims instead of a scan of every tenant's claims of every year
        .where(Claim.tenant_id.in_(ids), Claim.plan_id.in_(plan_ids), Claim.superseded.is_(False))
        .where(Claim.category.in_(COMPENSATION_CATEGORIES))
        .group_by(Claim.tenant_id, Claim.category, Claim.status)
    ).all():
        c = cats[tenant_id][category]
        c["claimed"] += amount
        if status == ACCEPTED:
            c["accepted"] += amount
            c["paid"] += amount
    for tenant_id, amount in session.execute(
        select(Consultation.tenant_id, func.sum(Consultation.amount))
        .where(Consultation.tenant_id.in_(ids), Consultation.plan_id.in_(plan_ids))
        .group_by(Consultation.tenant_id)
    ).all():
        c = cats[tenant_id]["consultations"]
        c["claimed"] = c["accepted"] = c["paid"] = programme.money(amount)
    # preparation is owed per started plan at the rate of the day it was prepared: its columns only
    started = select(PlanRM.tenant_id, PlanRM.prepared_on, PlanRM.preparation_hours).where(
        PlanRM.id.in_(plan_ids), PlanRM.started_on.isnot(None), PlanRM.preparation_hours > 0
    )
    for tenant_id, prepared_on, hours in session.execute(started).all():
        c = cats[tenant_id]["plan_preparation"]
        owed = budgets.preparation_amount(hours, in_force(prepared_on))
        c["claimed"] += owed
        c["accepted"] += owed
        c["paid"] += owed
    held = func.sum(case((Reservation.state == budgets.HELD, Reservation.reserved), else_=0))
    kept = func.sum(case((Reservation.state == budgets.RELEASED, Reservation.reserved), else_=0))
    reservations = {
        r[0]: (programme.money(r[1]), programme.money(r[2]), programme.money(r[3]))
        for r in session.execute(
            select(Reservation.tenant_id, held, kept, func.sum(Reservation.released))
            .where(Reservation.semester == semester, Reservation.tenant_id.in_(ids))
            .group_by(Reservation.tenant_id)
        ).all()
    }
    out = []
    for t in rows:
        by_cat = cats[t.id]
        reserved, kept_used, released = reservations.get(t.id, (ZERO, ZERO, ZERO))
        budget = _budget(in_force, t, semester)
        row: dict[str, Any] = {
            "tenant_id": t.id,
            "tenant_name": t.name,
            "region": t.region,
            "semester": semester,
            "budget": budget,
            "reserved": reserved,
            "released": released,
            "claimed": sum((c["claimed"] for c in by_cat.values()), ZERO),
            "accepted": sum((c["accepted"] for c in by_cat.values()), ZERO),
            "paid": sum((c["paid"] for c in by_cat.values()), ZERO),
            "by_category": [{"category": k, **v} for k, v in by_cat.items()],
        }
        # what is still free: the budget less what plans hold and what released plans used
        row["remaining"] = budget - reserved - kept_used if budget is not None else None
        out.append(row)
    return out


def _budget(in_force: programme.InForce, tenant: TenantRM, semester: str) -> Decimal | None:
    school_type = "vocational" if tenant.kind == "vocational_school" else "general"
    current = in_force(budgets.today())
    found = current.semester(semester, school_type, tenant.id)
    if found is None:
        return None
    prog = in_force(found["starts_on"])
    return prog.tenant_budget(tenant.id, semester, tenant.student_count)


def total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows summed, figure by figure and category by category."""
    out: dict[str, Any] = {f: sum((r[f] or ZERO for r in rows), ZERO) for f in FIGURES}
    cats = {c: _cat() for c in CATEGORIES}
    for r in rows:
        for c in r["by_category"]:
            for k in ("claimed", "accepted", "paid"):
                cats[c["category"]][k] += c[k]
    out["by_category"] = [{"category": k, **v} for k, v in cats.items()]
    out["tenants"] = len(rows)
    return out


def regions(session: Session, semester: str) -> list[dict[str, Any]]:
    """Per region, the sum of its tenants."""
    rows = tenants(session, semester)
    by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_region[r["region"]].append(r)
    return [{"region": region, **total(rs)} for region, rs in sorted(by_region.items())]
