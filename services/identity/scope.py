"""Who may administer what: the scope rules of identity's admin API, as plain functions.

- The platform admin creates tenants and manages everyone.
- A regional coordinator sets up users of the tenants in the region, never platform-level roles.
- A municipality coordinator manages the users of the municipality and its schools, below itself.
- A school coordinator manages staff roles in the school (teachers, preparers, providers,
  accountants), never admin roles, and only users who hold no admin role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.common.auth import (
    ACCOUNTANT,
    AUDITOR,
    DIRECTOR,
    MUNICIPALITY_COORDINATOR,
    PLAN_PREPARER,
    PLATFORM_ADMIN,
    REGIONAL_COORDINATOR,
    SCHOOL_COORDINATOR,
    SUPPORT_PROVIDER,
    TEACHER,
    Principal,
)

ADMIN_ROLES = frozenset({PLATFORM_ADMIN, REGIONAL_COORDINATOR, MUNICIPALITY_COORDINATOR, SCHOOL_COORDINATOR})
SCHOOL_STAFF_ROLES = frozenset({TEACHER, PLAN_PREPARER, SUPPORT_PROVIDER, ACCOUNTANT})
SCHOOL_ROLES = frozenset({SCHOOL_COORDINATOR, DIRECTOR, TEACHER, PLAN_PREPARER, SUPPORT_PROVIDER})
PLATFORM_ROLES = frozenset({PLATFORM_ADMIN, REGIONAL_COORDINATOR})


@dataclass(frozen=True)
class TenantRef:
    id: str
    kind: str
    region: str


@dataclass(frozen=True)
class GrantRequest:
    role: str
    tenant: TenantRef | None
    school_id: str | None
    school_tenant_id: str | None  # the tenant the named school belongs to
    region: str | None


class ScopeError(Exception):
    """A grant that cannot exist, whoever asks for it: `code` says which rule."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def check_grant_shape(req: GrantRequest, user_tenant_id: str | None) -> None:
    """Raise ScopeError when a role's scope is not the one DOMAIN.md gives that role."""
    has_tenant, has_school, has_region = req.tenant is not None, req.school_id is not None, bool(req.region)
    if req.role == PLATFORM_ADMIN:
        if has_tenant or has_school or has_region:
            raise ScopeError("grant_scope_invalid", "platform_admin has no tenant, school or region.")
    elif req.role == REGIONAL_COORDINATOR or (req.role == AUDITOR and has_region):
        if has_tenant or has_school or not has_region:
            raise ScopeError("grant_scope_invalid", f"{req.role} of a region names only the region.")
    else:
        if req.tenant is None:
            raise ScopeError("grant_scope_invalid", f"{req.role} needs a tenant.")
        if has_region:
            raise ScopeError("grant_scope_invalid", f"{req.role} is scoped to a tenant, not a region.")
        if req.role == MUNICIPALITY_COORDINATOR and (req.tenant.kind != "municipality" or has_school):
            raise ScopeError("grant_scope_invalid", "municipality_coordinator is scoped to a municipality only.")
        if req.role in SCHOOL_ROLES and not has_school:
            raise ScopeError("grant_scope_invalid", f"{req.role} needs a school.")
        if has_school and req.school_tenant_id != req.tenant.id:
            raise ScopeError("grant_scope_invalid", "The school does not belong to that tenant.")
    if req.tenant is not None and req.tenant.id != user_tenant_id:
        raise ScopeError("grant_tenant_mismatch", "A user holds roles only in their own tenant.")
    if req.tenant is None and user_tenant_id is not None:
        raise ScopeError("grant_tenant_mismatch", "A user of a tenant cannot hold platform-level roles.")


def can_manage_tenants(principal: Principal) -> bool:
    return principal.is_platform_admin


def can_manage_schools(principal: Principal, tenant: TenantRef) -> bool:
    if principal.is_platform_admin:
        return True
    return any(g.region == tenant.region for g in principal.grants_of(REGIONAL_COORDINATOR))


def can_manage_users_of(principal: Principal, tenant: TenantRef | None) -> bool:
    """Whether the principal administers users of this tenant (None: platform-level users)."""
    if principal.is_platform_admin:
        return True
    if tenant is None:
        return False
    if any(g.region == tenant.region for g in principal.grants_of(REGIONAL_COORDINATOR)):
        return True
    return any(g.tenant_id == tenant.id for g in principal.grants_of(MUNICIPALITY_COORDINATOR, SCHOOL_COORDINATOR))


def can_manage_user(
    principal: Principal, tenant: TenantRef | None, user_grants: Iterable[tuple[str, str | None]]
) -> bool:
    """Whether the principal may change this existing user (profile, activation, sessions).

    `user_grants` are the user's (role, school id) pairs. A school coordinator reaches only users
    whose every grant is a staff role in a school the coordinator coordinates.
    """
    grants = list(user_grants)
    user_roles = {role for role, _school in grants}
    if not can_manage_users_of(principal, tenant):
        return False
    if principal.is_platform_admin:
        return True
    if user_roles & PLATFORM_ROLES:
        return False
    if _is_region_admin(principal, tenant):
        return True
    if tenant is not None and any(g.tenant_id == tenant.id for g in principal.grants_of(MUNICIPALITY_COORDINATOR)):
        return MUNICIPALITY_COORDINATOR not in user_roles
    own_schools = {g.school_id for g in principal.grants_of(SCHOOL_COORDINATOR) if tenant and g.tenant_id == tenant.id}
    return all(role in SCHOOL_STAFF_ROLES and school in own_schools for role, school in grants)


def can_grant(principal: Principal, req: GrantRequest) -> bool:
    """Whether the principal may give (or take away) this grant."""
    if principal.is_platform_admin:
        return True
    if req.role in PLATFORM_ROLES or req.tenant is None:
        return False
    if _is_region_admin(principal, req.tenant):
        return True
    if any(g.tenant_id == req.tenant.id for g in principal.grants_of(MUNICIPALITY_COORDINATOR)):
        return req.role != MUNICIPALITY_COORDINATOR
    return (
        req.role in SCHOOL_STAFF_ROLES
        and req.school_id is not None
        and any(
            g.tenant_id == req.tenant.id and g.school_id == req.school_id
            for g in principal.grants_of(SCHOOL_COORDINATOR)
        )
    )


def _is_region_admin(principal: Principal, tenant: TenantRef | None) -> bool:
    return tenant is not None and any(g.region == tenant.region for g in principal.grants_of(REGIONAL_COORDINATOR))
