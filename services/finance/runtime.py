"""Finance's process-wide wiring: the common runtime plus the statement staging area, built lazily."""

from __future__ import annotations

from functools import cache, cached_property

from services.common.runtime import ServiceRuntime

from .models import MESSAGING, Base
from .settings import FinanceSettings, load_finance_settings
from .staging import Staging


class FinanceRuntime(ServiceRuntime):
    settings: FinanceSettings

    @cached_property
    def staging(self) -> Staging:
        return Staging(self.settings)


@cache
def default_runtime() -> FinanceRuntime:
    return make_runtime(load_finance_settings())


def make_runtime(settings: FinanceSettings) -> FinanceRuntime:
    return FinanceRuntime(settings, Base.metadata, MESSAGING)
