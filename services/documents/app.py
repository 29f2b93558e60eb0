"""create_app for documents."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from services.common.audit_api import audit_blueprint
from services.common.auth import JwksKeySource, KeySource, TokenVerifier, install_authentication
from services.common.deadletters import dead_letter_blueprint
from services.common.revocation import RevocationList
from services.common.web import create_base_app

from .api import BLUEPRINTS
from .models import Document
from .runtime import default_runtime, make_runtime
from .settings import DocumentsSettings


def create_app(settings: DocumentsSettings | None = None, key_source: KeySource | None = None) -> Flask:
    """Build the documents API app; `key_source` replaces the JWKS URL (tests verify with identity's keys)."""
    runtime = make_runtime(settings) if settings else default_runtime()
    settings = runtime.settings
    app, api = create_base_app(
        settings,
        title="PuMPuRS documents",
        description="Evidence files in object storage: upload, versions, review status, downloads, monthly "
        "packages. / Pierādījumu datnes: augšupielāde, versijas, pārbaudes statuss, lejupielāde, "
        "mēneša paketes.",
        readiness=runtime.readiness(),  # type: ignore[arg-type]
    )
    app.extensions["runtime"] = runtime
    revocations = RevocationList(runtime.redis)
    keys = key_source or JwksKeySource(settings.jwks_url, cache_seconds=settings.jwks_cache_seconds)
    install_authentication(
        app, TokenVerifier(keys, settings.jwt_issuer, settings.jwt_audience, is_revoked=revocations.is_revoked)
    )

    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    api.register_blueprint(dead_letter_blueprint(runtime))
    # a region's tenants as documents knows them: those whose documents carry the region
    api.register_blueprint(
        audit_blueprint(
            runtime, lambda regions: select(Document.tenant_id).where(Document.region.in_(sorted(regions))).distinct()
        )
    )
    return app
