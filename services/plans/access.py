"""Who may read and change what in plans: one place for tenant, school and role checks.

Reads: any grant that reaches the row's school (school staff), its tenant (municipality coordinator,
accountant, auditor of the tenant), its region (regional coordinator, regional auditor) or all
(platform admin). Writes: only the roles each action names, inside their school or tenant; a
regional coordinator and an auditor never write.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from services.common.auth import (
    AUDITOR,
    MUNICIPALITY_COORDINATOR,
    PLATFORM_ADMIN,
    REGIONAL_COORDINATOR,
    Principal,
)
from services.common.errors import Forbidden, NotFound
from services.common.tenancy import tenant_scope

from .models import TenantRM

READ_ONLY_ROLES = frozenset({REGIONAL_COORDINATOR, AUDITOR})


def read_scope(principal: Principal, tenant_col: Any, school_col: Any | None = None) -> ColumnElement[bool]:
    """Rows this principal may read; region grants resolve through the tenant read model."""
    region_col = None
    if principal.regions():
        region_col = (
            select(TenantRM.region).where(TenantRM.id == tenant_col).correlate_except(TenantRM).scalar_subquery()
        )
    return tenant_scope(principal, tenant_col, region_col=region_col, school_col=school_col)


def can_read(session: Session, principal: Principal, tenant_id: uuid.UUID, school_id: uuid.UUID | None) -> bool:
    if principal.is_platform_admin:
        return True
    for g in principal.grants:
        if g.region and not g.tenant_id:
            tenant = session.get(TenantRM, tenant_id)
            if tenant is not None and tenant.region == g.region:
                return True
        elif g.tenant_id == str(tenant_id) and (g.school_id is None or g.school_id == str(school_id)):
            return True
    return False


def ensure_readable(session: Session, principal: Principal, row: Any, what: str) -> Any:
    """The row, or 404 when it is missing or outside the principal's reach (no hint it exists)."""
    if row is None or not can_read(session, principal, row.tenant_id, getattr(row, "school_id", None)):
        raise NotFound(what)
    return row


def has_school_role(principal: Principal, tenant_id: uuid.UUID, school_id: uuid.UUID, *roles: str) -> bool:
    """A school-scoped grant of one of `roles` in this school, or a tenant-wide one in its tenant."""
    for g in principal.grants_of(*roles):
        if g.role in READ_ONLY_ROLES:
            continue
        if g.tenant_id == str(tenant_id) and (g.school_id is None or g.school_id == str(school_id)):
            return True
    return False


def require_school_role(
    principal: Principal, tenant_id: uuid.UUID, school_id: uuid.UUID, *roles: str, detail: str | None = None
) -> None:
    if not has_school_role(principal, tenant_id, school_id, *roles):
        raise Forbidden(detail or "Your role does not allow this here.")


def principal_tenant(principal: Principal) -> uuid.UUID:
    """The tenant a school-side user works in (writes always happen in one's own tenant)."""
    if principal.tenant_id is None:
        raise Forbidden("Only staff of a tenant do this.")
    return uuid.UUID(principal.tenant_id)


WRITE_ROLES_STUDENTS = ("school_coordinator", "plan_preparer", MUNICIPALITY_COORDINATOR)
IKVD = PLATFORM_ADMIN
