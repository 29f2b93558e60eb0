"""create_app for plans."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from services.common.auth import KeySource
from services.common.service_app import create_service_app

from . import api_delivery, api_plans, api_students, api_timeline
from .models import TenantRM
from .runtime import default_runtime, make_runtime
from .settings import PlansSettings


def create_app(settings: PlansSettings | None = None, key_source: KeySource | None = None) -> Flask:
    """Build the plans API app; tokens verify against identity's JWKS unless a key source is given."""
    runtime = make_runtime(settings) if settings else default_runtime()
    app, _api = create_service_app(
        runtime,
        title="PuMPuRS plans",
        description="Students, individual support plans, approvals, agreements, consultations, orders. / "
        "Izglītojamie, individuālie atbalsta plāni, saskaņošana, vienošanās, konsultācijas, rīkojumi.",
        blueprints=[
            *api_students.BLUEPRINTS,
            *api_plans.BLUEPRINTS,
            *api_delivery.BLUEPRINTS,
            *api_timeline.BLUEPRINTS,
        ],
        key_source=key_source,
        region_tenants=lambda regions: select(TenantRM.id).where(TenantRM.region.in_(sorted(regions))),
    )
    return app
