"""Reading finance's records within the caller's reach: claims with their results and history,
attestations, reservations, statements, settings revisions, and the overview."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, null, select
from sqlalchemy.orm import Session, selectinload

from services.common.auth import Principal
from services.common.errors import Forbidden, NotFound

from . import budgets, checks, overview, programme
from .access import can_read, can_read_region, ensure_readable, read_scope
from .models import Attestation, Claim, Reservation, SettingsRevision, Statement, TenantRM


def claims_query(principal: Principal, f: dict[str, Any]) -> Select[Any]:
    query = select(Claim).where(read_scope(principal, Claim.tenant_id, Claim.school_id))
    for key in ("tenant_id", "school_id", "plan_id", "student_id", "document_id", "status", "month", "category"):
        if f.get(key) is not None:
            query = query.where(getattr(Claim, key) == f[key])
    if not f.get("include_superseded"):
        query = query.where(Claim.superseded.is_(False))
    return query.order_by(Claim.created_at.desc(), Claim.id)


def claim(session: Session, principal: Principal, claim_id: uuid.UUID) -> Claim:
    """A claim with its current results, every run and the overrides."""
    found = session.execute(
        select(Claim).where(Claim.id == claim_id).options(selectinload(Claim.history), selectinload(Claim.overrides))
    ).scalar_one_or_none()
    ensure_readable(session, principal, found, "claim")
    assert found is not None
    found.current_results = checks.current_results(session, found)  # type: ignore[attr-defined]
    return found


def attestations_query(principal: Principal, f: dict[str, Any]) -> Select[Any]:
    query = select(Attestation).where(read_scope(principal, Attestation.tenant_id, Attestation.school_id))
    for key in ("tenant_id", "student_id", "semester"):
        if f.get(key) is not None:
            query = query.where(getattr(Attestation, key) == f[key])
    if not f.get("include_replaced"):
        query = query.where(Attestation.replaced_by.is_(None))
    return query.order_by(Attestation.issued_on.desc(), Attestation.id)


def reservations_query(principal: Principal, f: dict[str, Any]) -> Select[Any]:
    query = select(Reservation).where(read_scope(principal, Reservation.tenant_id, null()))
    for key in ("tenant_id", "semester", "state", "plan_id"):
        if f.get(key) is not None:
            query = query.where(getattr(Reservation, key) == f[key])
    return query.order_by(Reservation.updated_at.desc(), Reservation.plan_id)


def statements_query(principal: Principal, f: dict[str, Any]) -> Select[Any]:
    # tenant-wide records: a school's grant does not read them (its school column is none)
    query = select(Statement).where(read_scope(principal, Statement.tenant_id, null()))
    for key in ("tenant_id", "month"):
        if f.get(key) is not None:
            query = query.where(getattr(Statement, key) == f[key])
    return query.options(selectinload(Statement.files)).order_by(Statement.month.desc(), Statement.number.desc())


def statement(session: Session, principal: Principal, statement_id: uuid.UUID) -> Statement:
    found = session.get(Statement, statement_id)
    if found is None or not can_read(session, principal, found.tenant_id, None):
        raise NotFound("statement")
    return found


def settings_in_force(session: Session, on: Any = None) -> dict[str, Any]:
    prog = programme.in_force(session, on or budgets.today())
    return revision_view(session.get(SettingsRevision, prog.revision))


def revision_view(row: SettingsRevision | None) -> dict[str, Any]:
    if row is None:
        raise NotFound("settings revision")
    return {
        "revision": row.revision,
        "effective_from": row.effective_from,
        "example_values": row.example_values,
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "published_at": row.published_at,
        "values": row.data,
    }


def history(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(SettingsRevision).order_by(SettingsRevision.revision.desc())).scalars()
    return [revision_view(r) for r in rows]


def tenant_overview(session: Session, principal: Principal, tenant_id: uuid.UUID, semester: str) -> dict[str, Any]:
    tenant = session.get(TenantRM, tenant_id)
    if tenant is None:
        raise NotFound("tenant")
    if not can_read(session, principal, tenant_id, None):
        raise NotFound("tenant")
    return overview.tenants(session, semester, [tenant_id])[0]


def region_overview(session: Session, principal: Principal, region: str, semester: str) -> dict[str, Any]:
    if not can_read_region(principal, region):
        raise Forbidden("Only the region's coordinator or the platform admin reads a region's overview.")
    rows = overview.tenants(session, semester, region=region)
    return {"region": region, "semester": semester, "tenants": rows, "total": overview.total(rows)}


def all_overview(session: Session, principal: Principal, semester: str) -> dict[str, Any]:
    if not principal.is_platform_admin:
        raise Forbidden("Only the platform admin reads the overview across all tenants.")
    regions = overview.regions(session, semester)
    rows = overview.tenants(session, semester)
    return {"semester": semester, "regions": regions, "total": overview.total(rows)}
