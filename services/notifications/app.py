"""create_app for notifications."""

from __future__ import annotations

from flask import Flask

from services.common.auth import KeySource
from services.common.service_app import create_service_app

from .api import BLUEPRINTS
from .runtime import default_runtime, make_runtime
from .settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None, key_source: KeySource | None = None) -> Flask:
    """Build the notifications API app; tokens verify against identity's JWKS unless a key source is given."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, _api = create_service_app(
        runtime,
        title="PuMPuRS notifications",
        description="Inbox, notification preferences, tenants' webhooks and delivery logs. / "
        "Iesūtne, paziņojumu iestatījumi, tīmekļa āķi un piegāžu žurnāls.",
        blueprints=BLUEPRINTS,
        key_source=key_source,
    )
    return app
