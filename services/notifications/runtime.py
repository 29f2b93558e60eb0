"""Notifications' process-wide wiring, built lazily so importing does no I/O."""

from __future__ import annotations

from functools import cache

from services.common.runtime import ServiceRuntime

from .models import MESSAGING, Base
from .settings import NotificationsSettings, load_notifications_settings


@cache
def default_runtime() -> ServiceRuntime:
    return make_runtime(load_notifications_settings())


def make_runtime(settings: NotificationsSettings) -> ServiceRuntime:
    return ServiceRuntime(settings, Base.metadata, MESSAGING)
