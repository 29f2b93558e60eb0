"""What a person does with their own account: invitations and password resets by one-time link, their
sessions, their language. No Flask in here.

A link's secret is derived from its id (services/common/account_links.py); the message that asks
notifications to mail it carries the id and facts only. A link works once, until it expires, and a newer
link of the same purpose replaces the older ones.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.common import audit
from services.common.account_links import INVITATION, PASSWORD_RESET, link_secret, secret_hash
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import ApiError, NotFound
from services.common.messaging import Outbox

from .models import AccountLink, RefreshSession, User
from .passwords import hash_password
from .sessions import end_session, end_user_sessions
from .settings import IdentitySettings


def unusable_password() -> str:
    """The hash of a password nobody knows: an invited user logs in only after setting their own."""
    return hash_password(secrets.token_urlsafe(32))


def create_link(
    session: Session,
    outbox: Outbox,
    settings: IdentitySettings,
    user: User,
    purpose: str,
    created_by: Principal | None = None,
) -> AccountLink:
    """A new link for `user` (older unused ones of the purpose stop working), and the message to mail it."""
    now = utcnow()
    session.execute(
        update(AccountLink)
        .where(AccountLink.user_id == user.id, AccountLink.purpose == purpose, AccountLink.used_at.is_(None))
        .values(used_at=now)
    )
    ttl = settings.invitation_ttl if purpose == INVITATION else settings.password_reset_ttl
    link = AccountLink(
        id=uuid.uuid4(),
        user_id=user.id,
        purpose=purpose,
        created_at=now,
        created_by=uuid.UUID(created_by.user_id) if created_by else None,
        expires_at=now + timedelta(seconds=ttl),
    )
    link.secret_hash = secret_hash(link_secret(settings.account_link_secret, link.id, purpose))
    session.add(link)
    session.flush()
    outbox.publish(
        session,
        "notifications.account_link",
        {
            "link_id": str(link.id),
            "user_id": str(user.id),
            "purpose": purpose,
            "email": user.email,
            "full_name": user.full_name,
            "language": user.language,
            "expires_at": link.expires_at.isoformat(),
        },
    )
    return link


def invite(
    session: Session, outbox: Outbox, settings: IdentitySettings, principal: Principal, user: User
) -> AccountLink:
    link = create_link(session, outbox, settings, user, INVITATION, principal)
    audit.record(
        session, principal, "user.invited", "user", user.id, tenant_id=user.tenant_id, expires_at=link.expires_at
    )
    return link


def request_reset(session: Session, outbox: Outbox, settings: IdentitySettings, email: str) -> bool:
    """Mail a reset link when an active account has this e-mail; the caller answers the same either way."""
    user = session.execute(select(User).where(User.email == email.strip().lower())).scalars().first()
    if user is None or not user.active or (user.tenant is not None and not user.tenant.active):
        audit.unchanged()
        return False
    link = create_link(session, outbox, settings, user, PASSWORD_RESET)
    audit.record(
        session,
        None,
        "user.password_reset_requested",
        "user",
        user.id,
        tenant_id=user.tenant_id,
        expires_at=link.expires_at,
    )
    return True


def link_invalid() -> ApiError:
    return ApiError(
        404,
        "link_invalid",
        "This link is not valid. Ask for a new one.",
        detail_lv="Šī saite nav derīga. Pieprasiet jaunu.",
    )


def _link(
    session: Session, settings: IdentitySettings, link_id: uuid.UUID, token: str, *, lock: bool = False
) -> tuple[AccountLink, User]:
    """The link a presented secret opens, or 404 / 410 (expired) / 409 (used): never which ids exist."""
    query = select(AccountLink).where(AccountLink.id == link_id)
    link = session.execute(query.with_for_update() if lock else query).scalars().first()
    expected = link_secret(settings.account_link_secret, link_id, link.purpose) if link else ""
    if link is None or not hmac.compare_digest(expected, token) or secret_hash(token) != link.secret_hash:
        raise link_invalid()
    if link.used_at is not None:
        raise ApiError(
            409,
            "link_used",
            "This link has been used already (or a newer one was sent). Ask for a new one if you need it.",
            detail_lv="Šī saite jau ir izmantota (vai ir nosūtīta jaunāka). Ja vajag, pieprasiet jaunu.",
        )
    if link.expires_at <= utcnow():
        raise ApiError(
            410,
            "link_expired",
            "This link has expired. Ask for a new one.",
            detail_lv="Šīs saites derīguma termiņš ir beidzies. Pieprasiet jaunu.",
        )
    user = session.get(User, link.user_id)
    if user is None or not user.active or (user.tenant is not None and not user.tenant.active):
        raise link_invalid()
    return link, user


def inspect_link(session: Session, settings: IdentitySettings, link_id: uuid.UUID, token: str) -> dict[str, Any]:
    """What a link is for and whose it is (for the page that opens it); nothing changes."""
    link, user = _link(session, settings, link_id, token)
    return {
        "purpose": link.purpose,
        "email": user.email,
        "full_name": user.full_name,
        "language": user.language,
        "expires_at": link.expires_at,
    }


def complete_link(
    session: Session, settings: IdentitySettings, link_id: uuid.UUID, token: str, new_password: str
) -> list[str]:
    """Set the password a link allows; the link is spent, the account unlocked, and every session ends."""
    from .admin import check_password

    link, user = _link(session, settings, link_id, token, lock=True)
    check_password(settings, new_password, field="new_password")
    now = utcnow()
    link.used_at = now
    user.password_hash = hash_password(new_password)
    user.failed_logins, user.locked_until = 0, None
    ended = end_user_sessions(session, user.id, "password_reset" if link.purpose == PASSWORD_RESET else "invitation")
    action = "user.password_reset" if link.purpose == PASSWORD_RESET else "user.invitation_accepted"
    audit.record(
        session, None, action, "user", user.id, tenant_id=user.tenant_id, actor_id=user.id, sessions=len(ended)
    )
    return ended


# ---- the caller's own sessions and profile -----------------------------------------------------------


def my_sessions(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The caller's open sessions, newest first, the current one marked."""
    now = utcnow()
    rows = session.execute(
        select(RefreshSession)
        .where(
            RefreshSession.user_id == uuid.UUID(principal.user_id),
            RefreshSession.revoked_at.is_(None),
            RefreshSession.expires_at > now,
        )
        .order_by(RefreshSession.created_at.desc())
    ).scalars()
    return [
        {
            "id": rs.id,
            "created_at": rs.created_at,
            "last_used_at": rs.rotated_at or rs.created_at,
            "expires_at": rs.expires_at,
            "device": rs.device,
            "current": str(rs.id) == principal.session_id,
        }
        for rs in rows
    ]


def end_my_session(session: Session, principal: Principal, session_id: uuid.UUID) -> str:
    """End one of the caller's own sessions (another's is missing, as one that never was)."""
    rs = session.get(RefreshSession, session_id)
    if rs is None or str(rs.user_id) != principal.user_id or rs.revoked_at is not None:
        raise NotFound("session")
    end_session(session, rs.id, "ended_by_user")
    audit.record(
        session, principal, "session.ended", "session", rs.id, tenant_id=principal.tenant_id, reason="ended_by_user"
    )
    return str(rs.id)


def end_other_sessions(session: Session, principal: Principal) -> list[str]:
    keep = uuid.UUID(principal.session_id) if principal.session_id else None
    ended = end_user_sessions(session, uuid.UUID(principal.user_id), "ended_by_user", keep=keep)
    if ended:
        audit.record(
            session,
            principal,
            "user.sessions_revoked",
            "user",
            principal.user_id,
            tenant_id=principal.tenant_id,
            count=len(ended),
            reason="ended_by_user",
        )
    else:
        audit.unchanged()
    return ended


def update_me(session: Session, outbox: Outbox, principal: Principal, data: dict[str, Any]) -> User:
    """Change the caller's own name or language (the rest of an account is their administrator's)."""
    from .admin import user_changed

    user = session.get(User, uuid.UUID(principal.user_id))
    if user is None or not user.active:
        raise ApiError(401, "invalid_token", "The user no longer exists or is inactive.")
    changed = {k: v for k, v in data.items() if getattr(user, k) != v}
    for key, value in changed.items():
        setattr(user, key, value)
    if not changed:
        audit.unchanged()
        return user
    user.revision += 1
    audit.record(session, principal, "user.updated", "user", user.id, tenant_id=user.tenant_id, fields=sorted(changed))
    user_changed(session, outbox, user)
    return user
