"""create_app for finance."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from services.common.auth import KeySource
from services.common.service_app import create_service_app

from . import api_claims, api_money, api_settings
from .models import TenantRM
from .runtime import default_runtime, make_runtime
from .settings import FinanceSettings


def create_app(settings: FinanceSettings | None = None, key_source: KeySource | None = None) -> Flask:
    """Build the finance API app; tokens verify against identity's JWKS unless a key source is given."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, _api = create_service_app(
        runtime,
        title="PuMPuRS finance",
        description="Programme settings, claims and their checks, overrides, budgets, statements, overview. / "
        "Programmas iestatījumi, pieprasījumi un to pārbaudes, atcelšana, budžeti, pārskati.",
        blueprints=[*api_settings.BLUEPRINTS, *api_claims.BLUEPRINTS, *api_money.BLUEPRINTS],
        key_source=key_source,
        region_tenants=lambda regions: select(TenantRM.id).where(TenantRM.region.in_(sorted(regions))),
    )
    return app
