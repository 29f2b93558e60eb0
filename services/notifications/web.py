"""Small helpers the notifications views share."""

from __future__ import annotations

from flask import current_app

from services.common.runtime import ServiceRuntime

from .settings import NotificationsSettings

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def rt() -> ServiceRuntime:
    return current_app.extensions["runtime"]  # type: ignore[no-any-return]


def settings() -> NotificationsSettings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]
