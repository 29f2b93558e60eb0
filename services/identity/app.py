"""create_app for identity."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import jwt
from flask import Flask
from sqlalchemy import select

from services.common.db import utcnow
from services.common.errors import Unauthenticated
from services.common.runtime import ServiceRuntime
from services.common.service_app import create_service_app

from .api import BLUEPRINTS
from .models import SigningKey, Tenant
from .ratelimit import RateLimiter
from .runtime import default_runtime, make_runtime
from .settings import IdentitySettings


class LocalKeys:
    """Identity verifies its own tokens from its database, not over HTTP from itself.

    Keys are cached for a short while: a key never changes, only its expiry is set at a rotation.
    """

    CACHE_SECONDS = 30.0

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self._cache: dict[str, tuple[float, Any, datetime | None]] = {}

    def __call__(self, kid: str) -> Any:
        now = time.monotonic()
        hit = self._cache.get(kid)
        if hit is None or now - hit[0] > self.CACHE_SECONDS:
            with self.runtime.db.session() as session:
                row = session.execute(select(SigningKey).where(SigningKey.kid == kid)).scalars().first()
            if row is None:
                raise Unauthenticated("The token was signed by an unknown key.", code="invalid_token")
            hit = (now, jwt.PyJWK(row.public_jwk, algorithm="RS256").key, row.expires_at)
            self._cache[kid] = hit
        _, key, expires_at = hit
        if expires_at is not None and expires_at <= utcnow():
            raise Unauthenticated("The token was signed by a retired key.", code="invalid_token")
        return key


def create_app(settings: IdentitySettings | None = None) -> Flask:
    """Build the identity API app; it verifies its own tokens from its database."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, _api = create_service_app(
        runtime,
        title="PuMPuRS identity",
        description="Tenants, schools, users, roles and tokens. / Pašvaldības, skolas, lietotāji, lomas "
        "un piekļuves marķieri.",
        blueprints=BLUEPRINTS,
        key_source=LocalKeys(runtime),
        region_tenants=lambda regions: select(Tenant.id).where(Tenant.region.in_(sorted(regions))),
    )
    app.extensions["ratelimiter"] = RateLimiter(runtime.redis, runtime.settings)  # type: ignore[arg-type]
    return app
