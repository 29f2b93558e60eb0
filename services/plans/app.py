"""create_app for plans."""

from __future__ import annotations

from flask import Flask

from services.common.auth import JwksKeySource, KeySource, TokenVerifier, install_authentication
from services.common.deadletters import dead_letter_blueprint
from services.common.revocation import RevocationList
from services.common.web import create_base_app

from . import api_delivery, api_plans, api_students, api_timeline
from .runtime import default_runtime, make_runtime
from .settings import PlansSettings


def create_app(settings: PlansSettings | None = None, key_source: KeySource | None = None) -> Flask:
    """Build the plans API app; tokens verify against identity's JWKS unless a key source is given."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, api = create_base_app(
        runtime.settings,
        title="PuMPuRS plans",
        description="Students, individual support plans, approvals, agreements, consultations, orders. / "
        "Izglītojamie, individuālie atbalsta plāni, saskaņošana, vienošanās, konsultācijas, rīkojumi.",
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
    for module in (api_students, api_plans, api_delivery, api_timeline):
        for blp in module.BLUEPRINTS:
            api.register_blueprint(blp)
    api.register_blueprint(dead_letter_blueprint(runtime))
    return app
