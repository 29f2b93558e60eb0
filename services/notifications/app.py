"""create_app for notifications."""

from __future__ import annotations

from flask import Flask

from services.common.auth import JwksKeySource, KeySource, TokenVerifier, install_authentication
from services.common.deadletters import dead_letter_blueprint
from services.common.revocation import RevocationList
from services.common.web import create_base_app

from .api import BLUEPRINTS
from .runtime import default_runtime, make_runtime
from .settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None, key_source: KeySource | None = None) -> Flask:
    """Build the notifications API app; tokens verify against identity's JWKS unless a key source is given."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, api = create_base_app(
        runtime.settings,
        title="PuMPuRS notifications",
        description="Inbox, notification preferences, tenants' webhooks and delivery logs. / "
        "Iesūtne, paziņojumu iestatījumi, tīmekļa āķi un piegāžu žurnāls.",
        readiness=runtime.readiness(),  # type: ignore[arg-type]
    )
    app.extensions["runtime"] = runtime
    source = key_source or JwksKeySource(runtime.settings.jwks_url, runtime.settings.jwks_cache_seconds)
    install_authentication(
        app,
        TokenVerifier(
            source,
            runtime.settings.jwt_issuer,
            runtime.settings.jwt_audience,
            is_revoked=RevocationList(runtime.redis).is_revoked,
        ),
    )
    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    api.register_blueprint(dead_letter_blueprint(runtime))
    return app
