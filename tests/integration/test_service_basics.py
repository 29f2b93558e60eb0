"""What every service answers besides its API: health, readiness, metrics, docs, request ids, dead letters."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, insert, select

from services.identity.models import MESSAGING
from tests.integration.conftest import login

pytestmark = pytest.mark.integration


def test_health_and_readiness_check_the_real_dependencies(client):
    assert client.get("/healthz").json == {"status": "ok", "service": "identity"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "broker": "ok"}


def test_readiness_fails_with_a_problem_when_the_database_is_unreachable(identity_settings):
    from services.identity.app import create_app

    app = create_app(identity_settings.replace(database_url="postgresql+psycopg://x:y@127.0.0.1:1/none"))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.mimetype == "application/problem+json"
    assert resp.json["code"] == "not_ready" and resp.json["checks"]["database"].startswith("down")
    assert resp.headers["Retry-After"]


def test_a_request_id_is_echoed_or_made_and_metrics_count_requests(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/tenants")
    assert len(made.headers["X-Request-ID"]) == 32 and made.json["request_id"] == made.headers["X-Request-ID"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/tenants",method="GET",service="identity",status="401"}' in metrics


@pytest.fixture()
def identity_app_behind_proxy(identity_settings):  # type: ignore[no-untyped-def]
    from services.identity.app import create_app

    return create_app(identity_settings.replace(behind_proxy=True))


def test_the_docs_page_and_its_assets_are_served_without_internet(client, identity_app_behind_proxy):
    page = client.get("/docs")
    assert page.status_code == 200 and b'src="docs/assets/swagger-ui-bundle.js"' in page.data
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()
    behind = identity_app_behind_proxy.test_client().get("/docs", headers={"X-Forwarded-Prefix": "/api/identity"})
    assert b'"/api/identity/openapi.json"' in behind.data  # the spec link follows the gateway's prefix
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def _dead_letter(runtime) -> uuid.UUID:  # type: ignore[no-untyped-def]
    dl_id = uuid.uuid4()
    from services.common.db import utcnow

    with runtime.db.session() as s:
        s.execute(
            insert(MESSAGING.dead_letters).values(
                id=dl_id,
                message_id=str(uuid.uuid4()),
                task_name="identity.purge_expired_sessions",
                version=1,
                payload={},
                error_type="OperationalError",
                error="database away",
                attempts=9,
                failed_at=utcnow(),
            )
        )
    return dl_id


def _outbox_count(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.db.session() as s:
        return s.execute(select(func.count()).select_from(MESSAGING.outbox)).scalar_one()


def test_a_platform_admin_lists_and_replays_dead_letters_once(client, admin_headers, identity_runtime, world):
    dl_id = _dead_letter(identity_runtime)
    listed = client.get("/admin/dead-letters", headers=admin_headers)
    assert listed.status_code == 200 and listed.json["total"] == 1
    assert listed.json["items"][0]["id"] == str(dl_id) and listed.json["items"][0]["error_type"] == "OperationalError"
    before = _outbox_count(identity_runtime)
    replay = client.post(f"/admin/dead-letters/{dl_id}/replay", headers=admin_headers)
    assert replay.status_code == 202
    assert _outbox_count(identity_runtime) == before + 1
    again = client.post(f"/admin/dead-letters/{dl_id}/replay", headers=admin_headers)
    assert again.status_code == 409 and again.json["code"] == "already_replayed"
    assert _outbox_count(identity_runtime) == before + 1
    assert client.get("/admin/dead-letters", headers=admin_headers).json["total"] == 0
    assert client.get("/admin/dead-letters?status=replayed", headers=admin_headers).json["total"] == 1


def test_dead_letters_are_for_platform_admins_only(client, identity_runtime, world):
    tenant = world.tenant()
    coordinator = world.user(tenant, {"role": "municipality_coordinator", "tenant_id": tenant["id"]})
    dl_id = _dead_letter(identity_runtime)
    assert client.get("/admin/dead-letters", headers=coordinator["headers"]).status_code == 403
    denied = client.post(f"/admin/dead-letters/{dl_id}/replay", headers=coordinator["headers"])
    assert denied.status_code == 403
    missing = client.post(
        f"/admin/dead-letters/{uuid.uuid4()}/replay",
        headers={"Authorization": "Bearer " + login(client, "admin@ikvd.test", "admin-password-123")["access_token"]},
    )
    assert missing.status_code == 404


def test_logs_are_json_lines_without_concrete_paths(identity_settings, capsys):
    import logging

    from services.common import logging as platform_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level, platform_logging._configured
    platform_logging._configured = False
    try:
        platform_logging.configure_logging("identity", "json", "INFO")
        logging.getLogger("t").info("student %s seen", "010101-12345")
    finally:
        root.handlers[:], _, platform_logging._configured = saved
        root.setLevel(saved[1])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["service"] == "identity" and "010101-12345" not in line
