"""Small helpers the finance views share."""

from __future__ import annotations

from flask import current_app

from .runtime import FinanceRuntime

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def rt() -> FinanceRuntime:
    return current_app.extensions["runtime"]  # type: ignore[no-any-return]
