"""Identity's process-wide wiring, built lazily so importing does no I/O."""

from __future__ import annotations

from functools import cache

from services.common.runtime import ServiceRuntime

from . import passwords
from .models import MESSAGING, Base
from .settings import IdentitySettings, load_identity_settings


@cache
def default_runtime() -> ServiceRuntime:
    return make_runtime(load_identity_settings())


def make_runtime(settings: IdentitySettings) -> ServiceRuntime:
    passwords.configure(settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism)
    return ServiceRuntime(settings, Base.metadata, MESSAGING)
