"""The monthly expense package of a tenant (or one school): its documents, their status, what is missing."""

from __future__ import annotations

import uuid
from calendar import monthrange
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from services.common.auth import Principal
from services.common.contracts.documents import COMPENSATION_CATEGORIES, EXPENSE_KINDS
from services.common.errors import Forbidden, NotFound

from . import access
from .kinds import READERS
from .models import ACCEPTED, CHECKING, NEEDS_FIX, QUEUED, RECEIVED, REJECTED, REVIEW_STATUSES, Document

MONTHLY_KINDS = (*EXPENSE_KINDS, "ka_form", "statement")


def _missing(code: str, en: str, lv: str, **ids: Any) -> dict[str, Any]:
    return {"code": code, "detail": en, "detail_lv": lv, **{k: str(v) for k, v in ids.items() if v is not None}}


def package_tenant(principal: Principal, tenant_id: uuid.UUID | None) -> uuid.UUID:
    """The tenant whose package is asked for: given, or the only one the reader's grants name; else 404."""
    reader = access.with_roles(principal, READERS)
    if not reader.grants:
        raise Forbidden()
    if tenant_id is None:
        tenants = reader.tenant_ids()
        if len(tenants) != 1:
            raise access.invalid(tenant_id="You read several tenants; say which.")
        return uuid.UUID(next(iter(tenants)))
    if reader.is_platform_admin or str(tenant_id) in reader.tenant_ids() or reader.regions():
        return tenant_id
    raise NotFound("tenant")


def monthly_package(
    session: Session, principal: Principal, tenant_id: uuid.UUID, month: date, school_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """Everything filed for one month, with counts, totals and a list of what still needs doing."""
    first = month.replace(day=1)
    last = first.replace(day=monthrange(first.year, first.month)[1])
    query = (
        select(Document)
        .where(access.readable(principal), Document.state == "active", Document.tenant_id == tenant_id)
        .where(
            or_(
                and_(Document.kind.in_(MONTHLY_KINDS), Document.month == first),
                and_(Document.kind == "attestation", Document.valid_from <= last, Document.valid_to >= first),
            )
        )
        .order_by(Document.kind, Document.created_at)
    )
    if school_id is not None:
        query = query.where(Document.school_id == school_id)
    docs = list(session.execute(query).scalars())
    expenses = [d for d in docs if d.kind in EXPENSE_KINDS]
    attestations = [d for d in docs if d.kind == "attestation" and d.status != REJECTED]
    missing: list[dict[str, Any]] = []
    if not expenses:
        missing.append(
            _missing(
                "no_expense_documents",
                "No expense documents are filed for this month.",
                "Šim mēnesim nav iesniegts neviens izdevumu dokuments.",
            )
        )
    for doc in expenses:
        if doc.category in COMPENSATION_CATEGORIES and not any(
            a.student_id == doc.student_id and (not a.categories or doc.category in a.categories) for a in attestations
        ):
            missing.append(
                _missing(
                    "attestation_missing",
                    "A compensation needs the municipality's attestation covering this month.",
                    "Kompensācijai vajadzīga pašvaldības izziņa, kas attiecas uz šo mēnesi.",
                    document_id=doc.id,
                    student_id=doc.student_id,
                    plan_id=doc.plan_id,
                    category=doc.category,
                )
            )
    consultation_plans = {d.plan_id for d in expenses if d.category == "consultations"}
    ka_plans = {d.plan_id for d in docs if d.kind == "ka_form"}
    for plan_id in sorted(consultation_plans - ka_plans, key=str):
        missing.append(
            _missing(
                "ka_form_missing",
                "Consultations are claimed but the KA form is not filed.",
                "Konsultācijas pieprasītas, bet KA veidlapa nav iesniegta.",
                plan_id=plan_id,
            )
        )
    for doc in docs:
        if doc.status == NEEDS_FIX:
            missing.append(
                _missing(
                    "needs_fix",
                    "Finance asks for a fix; upload a corrected version.",
                    "Finanses lūdz labojumu; augšupielādējiet labotu versiju.",
                    document_id=doc.id,
                )
            )
    counts = Counter(d.status for d in docs)
    pending = counts[RECEIVED] + counts[QUEUED] + counts[CHECKING]
    return {
        "tenant_id": tenant_id,
        "school_id": school_id,
        "month": first.strftime("%Y-%m"),
        "documents": docs,
        "counts": {s: counts[s] for s in REVIEW_STATUSES},
        "claimed_total": sum((d.amount or Decimal("0") for d in expenses), Decimal("0.00")),
        "accepted_total": sum((d.amount or Decimal("0") for d in expenses if d.status == ACCEPTED), Decimal("0.00")),
        "missing": missing,
        "complete": not missing and pending == 0,
    }
