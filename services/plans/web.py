"""Small helpers the plans views share."""

from __future__ import annotations

from flask import current_app

from services.common.runtime import ServiceRuntime

from .settings import PlansSettings

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def rt() -> ServiceRuntime:
    return current_app.extensions["runtime"]  # type: ignore[no-any-return]


def settings() -> PlansSettings:
    return current_app.extensions["settings"]  # type: ignore[no-any-return]
