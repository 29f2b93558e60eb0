"""Login, refresh, logout and lockout; access tokens are short-lived RS256 JWTs."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import ApiError, Unauthenticated

from . import keys
from .models import RefreshSession, SigningKey, UsedRefreshToken, User
from .passwords import hash_password, needs_rehash, verify_password
from .ratelimit import RateLimiter
from .settings import IdentitySettings


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    token_type: str = "Bearer"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def grants_claim(user: User) -> list[dict[str, str]]:
    claims = []
    for g in user.grants:
        claim = {"role": g.role}
        if g.tenant_id:
            claim["tenant_id"] = str(g.tenant_id)
        if g.school_id:
            claim["school_id"] = str(g.school_id)
        if g.region:
            claim["region"] = g.region
        claims.append(claim)
    return claims


def access_token(
    session: Session, settings: IdentitySettings, user: User, sid: uuid.UUID, now: datetime | None = None
) -> str:
    now = now or utcnow()
    key = keys.current_key(session)
    regions = {g.region for g in user.grants if g.region}
    region = user.tenant.region if user.tenant else (regions.pop() if len(regions) == 1 else None)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user.id),
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + settings.access_token_ttl,
        "jti": uuid.uuid4().hex,
        "sid": str(sid),
        "typ": "access",
        "tenant_id": str(user.tenant_id) if user.tenant_id else None,
        "region": region,
        "roles": grants_claim(user),
        "name": user.full_name,
    }
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def _new_session(
    session: Session, settings: IdentitySettings, user: User, now: datetime, device: str | None = None
) -> TokenPair:
    refresh = secrets.token_urlsafe(32)
    rs = RefreshSession(
        id=uuid.uuid4(),
        user_id=user.id,
        device=device,
        token_hash=_hash(refresh),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl),
    )
    session.add(rs)
    session.flush()
    return TokenPair(access_token(session, settings, user, rs.id, now), refresh, settings.access_token_ttl, rs.id)


def _may_log_in(user: User) -> bool:
    """An inactive user, or a user of an inactive tenant, cannot log in or refresh."""
    return user.active and (user.tenant is None or user.tenant.active)


INVALID_CREDENTIALS = dict(
    code="invalid_credentials", detail="The e-mail or the password is wrong.", detail_lv="Nepareizs e-pasts vai parole."
)


def locked(wait: int) -> ApiError:
    return ApiError(
        423,
        "account_locked",
        "Too many failed logins; the account is locked for a while.",
        detail_lv="Pārāk daudz neveiksmīgu pieteikšanās mēģinājumu; konts uz laiku bloķēts.",
        headers={"Retry-After": str(wait)},
        retry_after=wait,
    )


def login(
    session: Session,
    settings: IdentitySettings,
    email: str,
    password: str,
    unknown: RateLimiter | None = None,
    device: str | None = None,
) -> TokenPair | ApiError:
    """Check the password; count failures and lock the account after too many in a row.

    An e-mail no account has is counted and locked the same way in `unknown` (Redis), so the answers
    never tell whether an account exists. Returns the error instead of raising it, so the caller
    commits the failure count first.
    """
    now = utcnow()
    user = session.execute(select(User).where(User.email == email.strip().lower()).with_for_update()).scalars().first()
    if user is not None and user.locked_until and user.locked_until > now:
        return locked(int((user.locked_until - now).total_seconds()) + 1)
    if user is None and unknown is not None and (wait := unknown.unknown_locked_for(email)):
        return locked(wait)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not _may_log_in(user):
        if user is None and unknown is not None:
            unknown.unknown_failed(email)
        if user is not None and not ok:
            user.failed_logins += 1
            if user.failed_logins >= settings.lockout_threshold:
                user.locked_until = now + timedelta(seconds=settings.lockout_seconds)
                user.failed_logins = 0
                audit.record(
                    session,
                    None,
                    "user.locked",
                    "user",
                    user.id,
                    tenant_id=user.tenant_id,
                    seconds=settings.lockout_seconds,
                )
        return Unauthenticated(
            INVALID_CREDENTIALS["detail"], code="invalid_credentials", detail_lv=INVALID_CREDENTIALS["detail_lv"]
        )
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    pair = _new_session(session, settings, user, now, device)
    audit.record(
        session,
        None,
        "user.logged_in",
        "user",
        user.id,
        tenant_id=user.tenant_id,
        actor_id=user.id,
        session_id=pair.session_id,
    )
    return pair


def refresh(
    session: Session, settings: IdentitySettings, refresh_token: str, revoke_sids: list[str]
) -> TokenPair | ApiError:
    """Rotate a refresh token; a token used twice ends its session (it was likely stolen).

    Returns the error instead of raising it, so the caller commits a reuse revocation first.
    """
    now = utcnow()
    digest = _hash(refresh_token)
    rs = (
        session.execute(select(RefreshSession).where(RefreshSession.token_hash == digest).with_for_update())
        .scalars()
        .first()
    )
    if rs is None:
        reused = (
            session.execute(select(RefreshSession).where(RefreshSession.previous_hash == digest).with_for_update())
            .scalars()
            .first()
        )
        if reused is None:  # a token from further back in the session's rotations
            reused = (
                session.execute(
                    select(RefreshSession)
                    .join(UsedRefreshToken, UsedRefreshToken.session_id == RefreshSession.id)
                    .where(UsedRefreshToken.token_hash == digest)
                    .with_for_update(of=RefreshSession)
                )
                .scalars()
                .first()
            )
        if reused is not None and reused.revoked_at is None:
            reused.revoked_at, reused.revoked_reason = now, "reuse_detected"
            revoke_sids.append(str(reused.id))
            owner = session.get(User, reused.user_id)
            audit.record(
                session,
                None,
                "session.reuse_detected",
                "session",
                reused.id,
                tenant_id=owner.tenant_id if owner else None,
                user_id=reused.user_id,
            )
        return Unauthenticated("The refresh token is not valid.", code="refresh_token_invalid")
    if rs.revoked_at is not None or rs.expires_at <= now:
        return Unauthenticated("The session has ended; log in again.", code="refresh_token_invalid")
    user = session.get(User, rs.user_id)
    if user is None or not _may_log_in(user):
        return Unauthenticated("The session has ended; log in again.", code="refresh_token_invalid")
    new = secrets.token_urlsafe(32)
    session.add(UsedRefreshToken(token_hash=rs.token_hash, session_id=rs.id, used_at=now))
    rs.previous_hash, rs.token_hash, rs.rotated_at = rs.token_hash, _hash(new), now
    return TokenPair(access_token(session, settings, user, rs.id, now), new, settings.access_token_ttl, rs.id)


def logout(session: Session, principal: Principal) -> bool:
    """End the caller's session (its refresh token and, through the revocation list, its access tokens)."""
    ended = end_session(session, uuid.UUID(principal.session_id), "logout") if principal.session_id else False
    audit.record(
        session,
        principal,
        "session.ended",
        "session",
        principal.session_id or principal.user_id,
        tenant_id=principal.tenant_id,
        reason="logout",
    )
    return ended


def end_session(session: Session, sid: uuid.UUID, reason: str) -> bool:
    result = session.execute(
        update(RefreshSession)
        .where(RefreshSession.id == sid, RefreshSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_user_sessions(session: Session, user_id: uuid.UUID, reason: str, keep: uuid.UUID | None = None) -> list[str]:
    """Revoke every open session of a user but `keep`; returns their ids for the shared revocation list."""
    query = select(RefreshSession.id).where(RefreshSession.user_id == user_id, RefreshSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(RefreshSession.id != keep)
    sids = list(session.execute(query).scalars())
    if sids:
        session.execute(
            update(RefreshSession).where(RefreshSession.id.in_(sids)).values(revoked_at=utcnow(), revoked_reason=reason)
        )
    return [str(s) for s in sids]


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete sessions past their lifetime and keys no longer verifying anything."""
    now = now or utcnow()
    n = session.execute(delete(RefreshSession).where(RefreshSession.expires_at < now - timedelta(days=1)))
    keys_gone = session.execute(
        delete(SigningKey).where(SigningKey.expires_at.is_not(None), SigningKey.expires_at < now)
    )
    sessions_gone, retired = int(n.rowcount), int(keys_gone.rowcount)  # type: ignore[attr-defined]
    if sessions_gone or retired:
        audit.record(
            session,
            None,
            "sessions.purged",
            "refresh_sessions",
            now.date(),
            tenant_id=None,
            sessions=sessions_gone,
            keys=retired,
        )
    return sessions_gone
