"""create_app for identity."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from services.common.auth import TokenVerifier, install_authentication
from services.common.deadletters import dead_letter_blueprint
from services.common.errors import Unauthenticated
from services.common.revocation import RevocationList
from services.common.runtime import ServiceRuntime
from services.common.web import create_base_app

from .api import BLUEPRINTS
from .models import SigningKey
from .runtime import default_runtime, make_runtime
from .settings import IdentitySettings


class LocalKeys:
    """Identity verifies its own tokens from its database, not over HTTP from itself."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def __call__(self, kid: str) -> object:
        import jwt

        with self.runtime.db.session() as session:
            key = session.execute(select(SigningKey).where(SigningKey.kid == kid)).scalars().first()
        if key is None or (key.expires_at is not None and key.expires_at <= _now()):
            raise Unauthenticated("The token was signed by an unknown key.", code="invalid_token")
        return jwt.PyJWK(key.public_jwk, algorithm="RS256").key


def _now():  # type: ignore[no-untyped-def]
    from services.common.db import utcnow

    return utcnow()


def create_app(settings: IdentitySettings | None = None) -> Flask:
    """Build the identity API app."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, api = create_base_app(
        runtime.settings,
        title="PuMPuRS identity",
        description="Tenants, schools, users, roles and tokens. / Pašvaldības, skolas, lietotāji, lomas "
        "un piekļuves marķieri.",
        readiness=runtime.readiness(),  # type: ignore[arg-type]
    )
    revocations = RevocationList(runtime.redis)
    app.extensions["runtime"] = runtime
    app.extensions["revocations"] = revocations
    install_authentication(
        app,
        TokenVerifier(
            LocalKeys(runtime),
            runtime.settings.jwt_issuer,
            runtime.settings.jwt_audience,
            is_revoked=revocations.is_revoked,
        ),
    )
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    api.register_blueprint(dead_letter_blueprint(runtime))
    return app
