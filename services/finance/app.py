"""create_app for finance."""

from __future__ import annotations

from flask import Flask

from services.common.auth import JwksKeySource, KeySource, TokenVerifier, install_authentication
from services.common.deadletters import dead_letter_blueprint
from services.common.revocation import RevocationList
from services.common.web import create_base_app

from . import api_claims, api_money, api_settings
from .runtime import default_runtime, make_runtime
from .settings import FinanceSettings


def create_app(settings: FinanceSettings | None = None, key_source: KeySource | None = None) -> Flask:
    """Build the finance API app; tokens verify against identity's JWKS unless a key source is given."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, api = create_base_app(
        runtime.settings,
        title="PuMPuRS finance",
        description="Programme settings, claims and their checks, overrides, budgets, statements, overview. / "
        "Programmas iestatījumi, pieprasījumi un to pārbaudes, atcelšana, budžeti, pārskati.",
        readiness=runtime.readiness(),  # type: ignore[arg-type]
    )
    revocations = RevocationList(runtime.redis)
    app.extensions["runtime"] = runtime
    source = key_source or JwksKeySource(runtime.settings.jwks_url, runtime.settings.jwks_cache_seconds)
    install_authentication(
        app,
        TokenVerifier(
            source, runtime.settings.jwt_issuer, runtime.settings.jwt_audience, is_revoked=revocations.is_revoked
        ),
    )
    for module in (api_settings, api_claims, api_money):
        for blp in module.BLUEPRINTS:
            api.register_blueprint(blp)
    api.register_blueprint(dead_letter_blueprint(runtime))
    return app
