"""The one way a service builds its Flask app: shared parts, token checks, its blueprints, dead letters."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from flask_smorest import Blueprint

from .audit import TABLE
from .audit_api import RegionTenants, audit_blueprint
from .auth import JwksKeySource, KeySource, TokenVerifier, install_authentication
from .deadletters import dead_letter_blueprint
from .revocation import RevocationList
from .runtime import ServiceRuntime
from .web import PlatformApi, create_base_app


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    blueprints: Iterable[Blueprint],
    key_source: KeySource | None = None,
    region_tenants: RegionTenants | None = None,
) -> tuple[Flask, PlatformApi]:
    """Tokens verify against identity's JWKS URL unless `key_source` is given (identity itself, tests).

    A service with an audit table gets `GET /audit`; `region_tenants` lets regional auditors read it.
    """
    settings = runtime.settings
    app, api = create_base_app(
        settings,
        title=title,
        description=description,
        readiness=runtime.readiness(),  # type: ignore[arg-type]
    )
    revocations = RevocationList(runtime.redis)
    app.extensions["runtime"] = runtime
    app.extensions["revocations"] = revocations
    source = key_source or JwksKeySource(settings.jwks_url, settings.jwks_cache_seconds)
    install_authentication(
        app,
        TokenVerifier(source, settings.jwt_issuer, settings.jwt_audience, is_revoked=revocations.is_revoked),
    )
    for blp in blueprints:
        api.register_blueprint(blp)
    api.register_blueprint(dead_letter_blueprint(runtime))
    if TABLE in runtime.metadata.tables:
        api.register_blueprint(audit_blueprint(runtime, region_tenants))
    return app, api
