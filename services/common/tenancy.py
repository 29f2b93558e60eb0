"""The one place that turns a principal into a WHERE clause over tenant-owned rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from .auth import Principal


def tenant_scope(
    principal: Principal,
    tenant_col: Any,
    *,
    region_col: Any | None = None,
    school_col: Any | None = None,
) -> ColumnElement[bool]:
    """Rows this principal may read.

    Platform admins read everything; region-wide grants read the tenants of their region (needs
    `region_col`); a tenant-wide grant reads its tenant; a school grant reads its school's rows
    (when the table has `school_col`) or, for tables without one, the rows of the school's tenant.
    """
    if principal.is_platform_admin:
        return true()
    clauses: list[ColumnElement[bool]] = []
    regions = principal.regions()
    if regions and region_col is not None:
        clauses.append(region_col.in_(sorted(regions)))
    tenant_wide = {g.tenant_id for g in principal.grants if g.tenant_id and not g.school_id}
    if tenant_wide:
        clauses.append(tenant_col.in_(sorted(tenant_wide)))
    school_grants = [g for g in principal.grants if g.tenant_id and g.school_id]
    if school_grants:
        if school_col is not None:
            clauses.append(or_(*(and_(tenant_col == g.tenant_id, school_col == g.school_id) for g in school_grants)))
        else:
            clauses.append(tenant_col.in_(sorted({str(g.tenant_id) for g in school_grants})))
    return or_(*clauses) if clauses else false()
