"""RS256 signing keys: one signs, retired ones keep verifying until their tokens have expired."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow

from .models import SigningKey


def _new_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = uuid.uuid4().hex
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return SigningKey(kid=kid, private_pem=pem, public_jwk=jwk, created_at=utcnow())


def current_key(session: Session) -> SigningKey:
    """The key that signs now; the first call on an empty database makes one."""
    key = (
        session.execute(
            select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc())
        )
        .scalars()
        .first()
    )
    if key is None:
        key = _new_key()
        session.add(key)
        session.flush()
    return key


def rotate(session: Session, access_token_ttl: int, grace: int, principal: Principal | None = None) -> SigningKey:
    """Start signing with a new key; the old one verifies until its last token expires."""
    now = utcnow()
    retired = []
    for old in session.execute(select(SigningKey).where(SigningKey.retired_at.is_(None))).scalars():
        old.retired_at = now
        old.expires_at = now + timedelta(seconds=access_token_ttl + grace)
        retired.append(old.kid)
    key = _new_key()
    key.created_at = now
    session.add(key)
    session.flush()
    audit.record(session, principal, "key.rotated", "signing_key", key.kid, tenant_id=None, retired=retired)
    return key


def verifying_keys(session: Session, now: datetime | None = None) -> list[SigningKey]:
    now = now or utcnow()
    return list(
        session.execute(
            select(SigningKey)
            .where(or_(SigningKey.expires_at.is_(None), SigningKey.expires_at > now))
            .order_by(SigningKey.created_at.desc())
        ).scalars()
    )


def jwks(session: Session) -> dict[str, Any]:
    return {"keys": [k.public_jwk for k in verifying_keys(session)]}
