"""Tenants, schools, users and role grants: the admin rules, with no Flask in them.

Every change writes an audit record (the kernel's `audit.record`) and publishes the new state for other
services' read models, in the same transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from services.common import audit
from services.common.auth import AUDITOR, DIRECTOR, Principal
from services.common.errors import ApiError, Conflict, Forbidden, NotFound
from services.common.messaging import Outbox
from services.common.tenancy import tenant_scope

from . import accounts, scope
from .accounts import unusable_password
from .models import AccountLink, RoleGrant, School, Tenant, User
from .passwords import hash_password, verify_password
from .sessions import end_user_sessions
from .settings import IdentitySettings

READERS = scope.ADMIN_ROLES | {AUDITOR, DIRECTOR}


def _ref(tenant: Tenant | None) -> scope.TenantRef | None:
    return scope.TenantRef(str(tenant.id), tenant.kind, tenant.region) if tenant else None


def _audit(
    session: Session, principal: Principal | None, action: str, target: Any, tenant_id: Any, **details: Any
) -> None:
    audit.record(session, principal, action, type(target).__name__.lower(), target.id, tenant_id=tenant_id, **details)


def _flush_unique(session: Session, what: str, field: str) -> None:
    """Flush in a savepoint; a unique clash becomes a 409 naming the field."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"{what}_exists",
            f"A {what} with this {field} already exists.",
            f"Ieraksts ar šādu lauku '{field}' jau pastāv.",
            field=field,
        ) from None


# ---- tenants and schools -----------------------------------------------------------------------


def tenant_payload(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant_id": str(tenant.id),
        "revision": tenant.revision,
        "kind": tenant.kind,
        "name": tenant.name,
        "registration_number": tenant.registration_number,
        "region": tenant.region,
        "student_count": tenant.student_count,
        "active": tenant.active,
        "schools": [
            {
                "school_id": str(s.id),
                "name": s.name,
                "kind": s.kind,
                "student_count": s.student_count,
                "active": s.active,
            }
            for s in tenant.schools
        ],
    }


def _tenant_changed(session: Session, outbox: Outbox, tenant: Tenant) -> None:
    session.flush()
    session.refresh(tenant, ["schools"])
    outbox.publish(session, "identity.tenant_changed", tenant_payload(tenant))


def tenants_query(principal: Principal, filters: dict[str, Any]) -> Select[Any]:
    query = select(Tenant).where(tenant_scope(principal, Tenant.id, region_col=Tenant.region))
    if filters.get("region"):
        query = query.where(Tenant.region == filters["region"])
    if filters.get("kind"):
        query = query.where(Tenant.kind == filters["kind"])
    if filters.get("q"):
        query = query.where(Tenant.name.ilike(f"%{like_pattern(filters['q'])}%"))
    if filters.get("active") is not None:
        query = query.where(Tenant.active == filters["active"])
    return query.options(selectinload(Tenant.schools)).order_by(Tenant.name, Tenant.id)


def visible_tenant(session: Session, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not principal.can_see_tenant(str(tenant.id), tenant.region):
        raise NotFound("tenant")
    return tenant


def create_tenant(session: Session, outbox: Outbox, principal: Principal, data: dict[str, Any]) -> Tenant:
    if not scope.can_manage_tenants(principal):
        raise Forbidden("Only the platform admin creates tenants.")
    tenant = Tenant(
        id=uuid.uuid4(),
        kind=data["kind"],
        name=data["name"],
        registration_number=data["registration_number"],
        region=data["region"],
        student_count=data.get("student_count", 0),
    )
    session.add(tenant)
    if tenant.kind == "vocational_school":
        # a vocational school is its own tenant and its own (only) school
        session.add(
            School(
                id=uuid.uuid4(),
                tenant=tenant,
                kind="vocational",
                name=tenant.name,
                registration_number=tenant.registration_number,
                student_count=tenant.student_count,
            )
        )
    _flush_unique(session, "tenant", "registration_number")
    _audit(session, principal, "tenant.created", tenant, tenant.id, name=tenant.name)
    _tenant_changed(session, outbox, tenant)
    return tenant


def update_tenant(
    session: Session,
    outbox: Outbox,
    principal: Principal,
    tenant_id: uuid.UUID,
    data: dict[str, Any],
    ended_sessions: list[str] | None = None,
) -> Tenant:
    """Change a tenant; deactivating it ends its users' sessions (their ids go to `ended_sessions`)."""
    tenant = visible_tenant(session, principal, tenant_id)
    if not scope.can_manage_tenants(principal):
        raise Forbidden("Only the platform admin changes tenants.")
    changed = {k: v for k, v in data.items() if getattr(tenant, k) != v}
    for key, value in changed.items():
        setattr(tenant, key, value)
    if tenant.kind == "vocational_school" and changed:
        for school in tenant.schools:  # keep the vocational school's one school in step
            school.name, school.student_count, school.active = tenant.name, tenant.student_count, tenant.active
    if changed.get("active") is False:
        users = session.execute(select(User.id).where(User.tenant_id == tenant.id)).scalars()
        for user_id in users:
            (ended_sessions if ended_sessions is not None else []).extend(
                end_user_sessions(session, user_id, "tenant_deactivated")
            )
    if changed:
        tenant.revision += 1
        _audit(session, principal, "tenant.updated", tenant, tenant.id, fields=sorted(changed))
        _tenant_changed(session, outbox, tenant)
    else:
        audit.unchanged()
    return tenant


def create_school(
    session: Session, outbox: Outbox, principal: Principal, tenant_id: uuid.UUID, data: dict[str, Any]
) -> School:
    tenant = visible_tenant(session, principal, tenant_id)
    if not scope.can_manage_schools(principal, _ref(tenant)):  # type: ignore[arg-type]
        raise Forbidden("Schools are set up by the platform admin or the region's coordinator.")
    if tenant.kind != "municipality":
        raise Conflict(
            "tenant_not_municipality",
            "Only a municipality has schools under it.",
            "Skolas var piederēt tikai pašvaldībai.",
        )
    school = School(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        kind="general",
        name=data["name"],
        registration_number=data["registration_number"],
        student_count=data.get("student_count", 0),
    )
    session.add(school)
    _flush_unique(session, "school", "registration_number")
    tenant.revision += 1
    _audit(session, principal, "school.created", school, tenant.id, name=school.name)
    _tenant_changed(session, outbox, tenant)
    return school


def update_school(
    session: Session, outbox: Outbox, principal: Principal, school_id: uuid.UUID, data: dict[str, Any]
) -> School:
    school = session.get(School, school_id)
    if school is None or not principal.can_see_tenant(str(school.tenant_id), school.tenant.region):
        raise NotFound("school")
    if not scope.can_manage_schools(principal, _ref(school.tenant)):  # type: ignore[arg-type]
        raise Forbidden("Schools are set up by the platform admin or the region's coordinator.")
    changed = {k: v for k, v in data.items() if getattr(school, k) != v}
    for key, value in changed.items():
        setattr(school, key, value)
    if changed:
        school.tenant.revision += 1
        _audit(session, principal, "school.updated", school, school.tenant_id, fields=sorted(changed))
        _tenant_changed(session, outbox, school.tenant)
    else:
        audit.unchanged()
    return school


# ---- users and grants --------------------------------------------------------------------------


def user_payload(user: User) -> dict[str, Any]:
    return {
        "user_id": str(user.id),
        "revision": user.revision,
        "tenant_id": str(user.tenant_id) if user.tenant_id else None,
        "email": user.email,
        "full_name": user.full_name,
        "language": user.language,
        "active": user.active,
        "roles": [
            {
                "role": g.role,
                "tenant_id": str(g.tenant_id) if g.tenant_id else None,
                "school_id": str(g.school_id) if g.school_id else None,
                "region": g.region,
            }
            for g in user.grants
        ],
    }


def user_changed(session: Session, outbox: Outbox, user: User) -> None:
    session.flush()
    session.refresh(user, ["grants"])
    outbox.publish(session, "identity.user_changed", user_payload(user))


def users_query(principal: Principal, filters: dict[str, Any]) -> Select[Any]:
    if not principal.has_role(*READERS):
        raise Forbidden()
    query = (
        select(User)
        .outerjoin(Tenant, User.tenant_id == Tenant.id)
        .where(tenant_scope(principal, User.tenant_id, region_col=Tenant.region))
    )
    if filters.get("tenant_id"):
        query = query.where(User.tenant_id == filters["tenant_id"])
    if filters.get("school_id") or filters.get("role"):
        sub = select(RoleGrant.user_id)
        if filters.get("school_id"):
            sub = sub.where(RoleGrant.school_id == filters["school_id"])
        if filters.get("role"):
            sub = sub.where(RoleGrant.role == filters["role"])
        query = query.where(User.id.in_(sub))
    if filters.get("q"):
        like = f"%{like_pattern(filters['q'])}%"
        query = query.where(or_(User.full_name.ilike(like), User.email.ilike(like)))
    if filters.get("active") is not None:
        query = query.where(User.active == filters["active"])
    return query.options(selectinload(User.grants)).order_by(User.full_name, User.id)


def visible_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    if principal.user_id == str(user.id):
        return user
    region = user.tenant.region if user.tenant else None
    seen = (
        principal.is_platform_admin
        if user.tenant_id is None
        else principal.has_role(*READERS) and principal.can_see_tenant(str(user.tenant_id), region)
    )
    if not seen:
        raise NotFound("user")
    return user


def _roles(user: User) -> set[str]:
    return {g.role for g in user.grants}


def _manageable_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = visible_user(session, principal, user_id)
    if str(user.id) == principal.user_id and not principal.is_platform_admin:
        raise Forbidden("You cannot administer your own account.", code="self_administration")
    user_grants = [(g.role, str(g.school_id) if g.school_id else None) for g in user.grants]
    if not scope.can_manage_user(principal, _ref(user.tenant), user_grants):
        raise Forbidden()
    return user


def _sees(principal: Principal, tenant: Tenant) -> bool:
    return principal.can_see_tenant(str(tenant.id), tenant.region)


def _grant_request(session: Session, data: dict[str, Any], principal: Principal | None = None) -> scope.GrantRequest:
    """The grant asked for; a tenant or school the principal cannot see is missing, as one that does not exist."""
    tenant = session.get(Tenant, data["tenant_id"]) if data.get("tenant_id") else None
    school = session.get(School, data["school_id"]) if data.get("school_id") else None
    if data.get("tenant_id") and (tenant is None or (principal is not None and not _sees(principal, tenant))):
        raise NotFound("tenant")
    if data.get("school_id") and (school is None or (principal is not None and not _sees(principal, school.tenant))):
        raise NotFound("school")
    return scope.GrantRequest(
        role=data["role"],
        tenant=_ref(tenant),
        school_id=str(school.id) if school else None,
        school_tenant_id=str(school.tenant_id) if school else None,
        region=data.get("region"),
    )


def _add_grant(session: Session, principal: Principal, user: User, data: dict[str, Any]) -> RoleGrant:
    req = _grant_request(session, data, principal)
    if req.role in scope.PLATFORM_ROLES and not principal.is_platform_admin:
        # a role the caller can never give: refuse it as such, before judging the scope it names
        raise Forbidden(f"Your role cannot grant {req.role}.", code="grant_not_allowed")
    try:
        scope.check_grant_shape(req, str(user.tenant_id) if user.tenant_id else None)
    except scope.ScopeError as exc:
        raise ApiError(
            422, exc.code, exc.detail, detail_lv="Lomas tvērums nav derīgs.", errors={"role": [exc.detail]}
        ) from None
    if not scope.can_grant(principal, req):
        raise Forbidden(f"Your role cannot grant {req.role} here.", code="grant_not_allowed")
    grant = RoleGrant(
        id=uuid.uuid4(),
        user_id=user.id,
        role=req.role,
        tenant_id=uuid.UUID(req.tenant.id) if req.tenant else None,
        school_id=uuid.UUID(req.school_id) if req.school_id else None,
        region=req.region,
        granted_by=uuid.UUID(principal.user_id),
    )
    session.add(grant)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            "grant_exists", "The user already holds this role in this scope.", "Lietotājam šī loma šajā tvērumā jau ir."
        ) from None
    user.grants.append(grant)
    return grant


def create_user(
    session: Session, outbox: Outbox, settings: IdentitySettings, principal: Principal, data: dict[str, Any]
) -> User:
    tenant = None
    if data.get("tenant_id"):
        tenant = session.get(Tenant, data["tenant_id"])
        if tenant is None or not principal.can_see_tenant(str(tenant.id), tenant.region):
            raise NotFound("tenant")
    if not scope.can_manage_users_of(principal, _ref(tenant)):
        raise Forbidden("Your role does not set up users here.")
    invite = bool(data.get("invite"))
    if invite == bool(data.get("password")):
        raise ApiError(
            422,
            "password_or_invitation",
            "Give an initial password, or ask for an invitation e-mail (invite: true), not both.",
            detail_lv="Norādiet sākotnējo paroli vai lūdziet nosūtīt ielūgumu (invite: true), ne abus.",
            errors={"password": ["Give a password or ask for an invitation."]},
        )
    if not invite:
        check_password(settings, data["password"])
    user = User(
        id=uuid.uuid4(),
        tenant_id=tenant.id if tenant else None,
        email=data["email"].strip().lower(),
        full_name=data["full_name"],
        language=data.get("language", "lv"),
        password_hash=unusable_password() if invite else hash_password(data["password"]),
    )
    session.add(user)
    _flush_unique(session, "user", "email")
    for grant in data.get("roles", []):
        _add_grant(session, principal, user, grant)
    _audit(session, principal, "user.created", user, user.tenant_id, roles=sorted(_roles(user)), invited=invite)
    user_changed(session, outbox, user)
    if invite:
        accounts.invite(session, outbox, settings, principal, user)
    return user


def invite_user(
    session: Session, outbox: Outbox, settings: IdentitySettings, principal: Principal, user_id: uuid.UUID
) -> AccountLink:
    """Send (again) an invitation to set a password; an earlier unused invitation stops working."""
    user = _manageable_user(session, principal, user_id)
    if not user.active:
        raise Conflict("user_inactive", "The user is deactivated.", "Lietotājs ir deaktivizēts.")
    return accounts.invite(session, outbox, settings, principal, user)


def check_password(settings: IdentitySettings, password: str, field: str = "password") -> None:
    if len(password) < settings.password_min_length:
        raise ApiError(
            422,
            "password_too_short",
            f"The password needs at least {settings.password_min_length} characters.",
            detail_lv=f"Parolei jābūt vismaz {settings.password_min_length} rakstzīmes garai.",
            errors={field: ["too short"]},
            min_length=settings.password_min_length,
        )


def update_user(
    session: Session,
    outbox: Outbox,
    settings: IdentitySettings,
    principal: Principal,
    user_id: uuid.UUID,
    data: dict[str, Any],
) -> tuple[User, list[str]]:
    """Change a user's profile or activation; returns the sessions a deactivation ended."""
    user = _manageable_user(session, principal, user_id)
    if "password" in data:
        check_password(settings, data["password"])
        user.password_hash = hash_password(data.pop("password"))
        data["password_changed"] = True
    changed = {k: v for k, v in data.items() if k == "password_changed" or getattr(user, k) != v}
    for key, value in changed.items():
        if key != "password_changed":
            setattr(user, key, value)
    ended: list[str] = []
    if changed.get("active") is False or changed.get("password_changed"):
        ended = end_user_sessions(session, user.id, "deactivated" if "active" in changed else "password_changed")
    if changed:
        user.revision += 1
        _audit(session, principal, "user.updated", user, user.tenant_id, fields=sorted(changed))
        user_changed(session, outbox, user)
    else:
        audit.unchanged()
    return user, ended


def grant_role(
    session: Session, outbox: Outbox, principal: Principal, user_id: uuid.UUID, data: dict[str, Any]
) -> RoleGrant:
    user = _manageable_user(session, principal, user_id)
    grant = _add_grant(session, principal, user, data)
    user.revision += 1
    _audit(
        session,
        principal,
        "role.granted",
        user,
        user.tenant_id,
        role=grant.role,
        school_id=str(grant.school_id) if grant.school_id else None,
    )
    user_changed(session, outbox, user)
    return grant


def revoke_role(
    session: Session, outbox: Outbox, principal: Principal, user_id: uuid.UUID, grant_id: uuid.UUID
) -> User:
    user = _manageable_user(session, principal, user_id)
    grant = next((g for g in user.grants if g.id == grant_id), None)
    if grant is None:
        raise NotFound("role grant")
    req = _grant_request(
        session,
        {"role": grant.role, "tenant_id": grant.tenant_id, "school_id": grant.school_id, "region": grant.region},
    )
    if not scope.can_grant(principal, req):
        raise Forbidden(f"Your role cannot take away {grant.role}.", code="grant_not_allowed")
    user.grants.remove(grant)
    user.revision += 1
    _audit(session, principal, "role.revoked", user, user.tenant_id, role=grant.role)
    user_changed(session, outbox, user)
    return user


def change_own_password(
    session: Session, settings: IdentitySettings, principal: Principal, current: str, new: str
) -> list[str]:
    """Change the caller's password; end their other sessions (returned for the revocation list)."""
    user = session.get(User, uuid.UUID(principal.user_id))
    if user is None or not verify_password(user.password_hash, current):
        raise ApiError(
            403, "wrong_password", "The current password is wrong.", detail_lv="Pašreizējā parole ir nepareiza."
        )
    check_password(settings, new)
    user.password_hash = hash_password(new)
    # the session that changed the password goes on: its refresh token must keep working
    keep = uuid.UUID(principal.session_id) if principal.session_id else None
    ended = end_user_sessions(session, user.id, "password_changed", keep=keep)
    _audit(session, principal, "user.password_changed", user, user.tenant_id, sessions_ended=len(ended))
    return ended


def unlock_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = _manageable_user(session, principal, user_id)
    user.locked_until, user.failed_logins = None, 0
    _audit(session, principal, "user.unlocked", user, user.tenant_id)
    return user


def end_sessions(session: Session, principal: Principal, user_id: uuid.UUID) -> list[str]:
    user = _manageable_user(session, principal, user_id)
    ended = end_user_sessions(session, user.id, "revoked_by_admin")
    _audit(session, principal, "user.sessions_revoked", user, user.tenant_id, count=len(ended))
    return ended


def bootstrap_admin(session: Session, outbox: Outbox, email: str, full_name: str, password: str) -> tuple[User, bool]:
    """Create the first platform admin; returns (user, created). Idempotent by e-mail."""
    existing = session.execute(select(User).where(User.email == email.strip().lower())).scalars().first()
    if existing is not None:
        return existing, False
    user = User(
        id=uuid.uuid4(),
        tenant_id=None,
        email=email.strip().lower(),
        full_name=full_name,
        language="lv",
        password_hash=hash_password(password),
    )
    user.grants.append(RoleGrant(id=uuid.uuid4(), role="platform_admin"))
    session.add(user)
    _audit(session, None, "user.bootstrapped", user, None)
    user_changed(session, outbox, user)
    return user, True


def like_pattern(text: str) -> str:
    """Text for an ILIKE pattern, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
