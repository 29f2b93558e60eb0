"""Who may read and do what in finance: one place for tenant, school, region and role checks.

Reads: any reading grant that reaches the row's school, its tenant, its region, or all (platform admin).
Overrides: an accountant of the claim's tenant (or of its school) or a platform admin, confirmed by a second,
different one of them. Statements on demand: the tenant's accountant or municipality coordinator, or the
platform admin. Settings: the platform admin only.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from services.common.auth import (
    ACCOUNTANT,
    AUDITOR,
    DIRECTOR,
    MUNICIPALITY_COORDINATOR,
    PLATFORM_ADMIN,
    REGIONAL_COORDINATOR,
    SCHOOL_COORDINATOR,
    Principal,
)
from services.common.errors import Forbidden, NotFound
from services.common.tenancy import tenant_scope

from .models import TenantRM

READERS = (
    PLATFORM_ADMIN,
    REGIONAL_COORDINATOR,
    MUNICIPALITY_COORDINATOR,
    SCHOOL_COORDINATOR,
    ACCOUNTANT,
    DIRECTOR,
    AUDITOR,
)
OVERRIDERS = (ACCOUNTANT, PLATFORM_ADMIN)
STATEMENT_MAKERS = (ACCOUNTANT, MUNICIPALITY_COORDINATOR, PLATFORM_ADMIN)
REGION_READERS = (PLATFORM_ADMIN, REGIONAL_COORDINATOR, AUDITOR)


def _reading(principal: Principal) -> Principal:
    """The principal with only its reading grants (a plain teacher reads nothing here)."""
    grants = tuple(g for g in principal.grants if g.role in READERS)
    return Principal(principal.user_id, principal.tenant_id, principal.region, grants, principal.session_id)


def read_scope(principal: Principal, tenant_col: Any, school_col: Any | None = None) -> ColumnElement[bool]:
    """Rows this principal may read; region grants resolve through the tenant read model."""
    reader = _reading(principal)
    region_col = None
    if reader.regions():
        region_col = (
            select(TenantRM.region).where(TenantRM.id == tenant_col).correlate_except(TenantRM).scalar_subquery()
        )
    return tenant_scope(reader, tenant_col, region_col=region_col, school_col=school_col)


def can_read(session: Session, principal: Principal, tenant_id: uuid.UUID, school_id: uuid.UUID | None) -> bool:
    reader = _reading(principal)
    if reader.is_platform_admin:
        return True
    for g in reader.grants:
        if g.region and not g.tenant_id:
            tenant = session.get(TenantRM, tenant_id)
            if tenant is not None and tenant.region == g.region:
                return True
        elif g.tenant_id == str(tenant_id) and (g.school_id is None or g.school_id == str(school_id)):
            return True  # a school's grant reads its school's rows, not the tenant-wide ones
    return False


def ensure_readable(session: Session, principal: Principal, row: Any, what: str) -> Any:
    """The row, or 404 when it is missing or outside the principal's reach (no hint it exists)."""
    if row is None or not can_read(session, principal, row.tenant_id, getattr(row, "school_id", None)):
        raise NotFound(what)
    return row


def acts_for(principal: Principal, tenant_id: uuid.UUID, school_id: uuid.UUID | None, *roles: str) -> bool:
    """A platform admin (when named in `roles`), or a grant of `roles` on this tenant or this school of it."""
    if PLATFORM_ADMIN in roles and principal.is_platform_admin:
        return True
    return any(
        g.tenant_id == str(tenant_id) and (g.school_id is None or g.school_id == str(school_id))
        for g in principal.grants_of(*roles)
    )


def require_acts_for(
    principal: Principal, tenant_id: uuid.UUID, school_id: uuid.UUID | None, *roles: str, detail: str | None = None
) -> None:
    if not acts_for(principal, tenant_id, school_id, *roles):
        raise Forbidden(detail or "Your role does not allow this for this institution.")


def can_read_region(principal: Principal, region: str) -> bool:
    return principal.is_platform_admin or any(
        g.region == region and not g.tenant_id for g in principal.grants_of(*REGION_READERS)
    )
