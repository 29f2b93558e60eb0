"""The staff directory of a school: who works there and in which roles, for the pickers a plan needs (the
provider of an agreement or a consultation). Names and roles only: no e-mail, no other contact data."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from services.common.auth import Principal
from services.common.errors import ApiError, NotFound

from .admin import like_pattern
from .models import RoleGrant, School, User


def _reaches(principal: Principal, school: School) -> bool:
    """The caller works in the school or holds its tenant, its region or the platform."""
    if principal.is_platform_admin or school.tenant.region in principal.regions():
        return True
    return any(g.tenant_id == str(school.tenant_id) and g.school_id in (None, str(school.id)) for g in principal.grants)


def staff_school(session: Session, principal: Principal, school_id: uuid.UUID | None) -> School:
    """The school asked for, or the caller's only school; another tenant's (or school's) is missing."""
    if school_id is None:
        mine = principal.school_ids()
        if len(mine) != 1:
            raise ApiError(
                422,
                "school_required",
                "Say which school's staff: you work in none or several.",
                detail_lv="Norādiet skolu (school_id): jūs strādājat nevienā vai vairākās.",
                errors={"school_id": ["required"]},
            )
        school_id = uuid.UUID(next(iter(mine)))
    school = session.get(School, school_id)
    if school is None or not _reaches(principal, school):
        raise NotFound("school")
    return school


def staff_query(school: School, filters: dict[str, Any]) -> Select[Any]:
    """Active users of the school's tenant holding a role in the school (or tenant-wide), by name."""
    here = or_(
        RoleGrant.school_id == school.id,
        and_(RoleGrant.school_id.is_(None), RoleGrant.tenant_id == school.tenant_id),
    )
    grants = select(RoleGrant.user_id).where(here)
    if filters.get("role"):
        grants = grants.where(RoleGrant.role == filters["role"])
    query = select(User).where(User.tenant_id == school.tenant_id, User.active.is_(True), User.id.in_(grants))
    if filters.get("q"):
        query = query.where(User.full_name.ilike(f"%{like_pattern(filters['q'])}%"))
    return query.options(selectinload(User.grants)).order_by(User.full_name, User.id)


def staff_entry(user: User, school: School) -> dict[str, Any]:
    """A person as a picker shows them: id, name and the roles they hold in this school."""
    roles = {
        g.role
        for g in user.grants
        if g.school_id == school.id or (g.school_id is None and g.tenant_id == school.tenant_id)
    }
    return {"user_id": user.id, "full_name": user.full_name, "school_id": school.id, "roles": sorted(roles)}
