"""The portal app built offline: no request here reaches Redis or a service."""

from __future__ import annotations

from typing import Any

import pytest

from services.portal.settings import PortalSettings


@pytest.fixture(scope="session")
def portal_app() -> Any:
    from services.portal.app import create_app

    settings = PortalSettings(
        service_urls={"identity": "http://127.0.0.1:9"},
        redis_url="redis://127.0.0.1:9/0",
        secret_key="unit-tests",
        secure_cookies=False,
        log_format="console",
        log_level="WARNING",
    )
    app = create_app(settings)
    app.testing = True
    return app
