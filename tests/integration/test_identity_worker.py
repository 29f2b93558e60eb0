"""identity's real worker on the real broker: scheduled housekeeping, and events leaving for read models."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from services.common.db import utcnow
from services.identity.models import RefreshSession, User
from tests.conftest import log_path
from tests.support.workers import Worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture()
def identity_worker(identity_settings, client):  # type: ignore[no-untyped-def]
    env = {
        "IDENTITY_DATABASE_URL": identity_settings.database_url,
        "REDIS_URL": identity_settings.broker_url,
        "ACCOUNT_LINK_SECRET": identity_settings.account_link_secret,
        "LOG_LEVEL": "INFO",
    }
    w = Worker("services.identity.worker", "identity", env, log_path("identity-worker"), concurrency=1)
    w.start()
    yield w
    w.stop()


def test_the_worker_purges_sessions_whose_lifetime_ended(identity_runtime, identity_worker, world):
    tenant = world.tenant()
    user = world.user(tenant, {"role": "accountant", "tenant_id": tenant["id"]})
    with identity_runtime.db.session() as s:
        old = RefreshSession(
            id=uuid.uuid4(),
            user_id=uuid.UUID(user["id"]),
            token_hash=uuid.uuid4().hex * 2,
            created_at=utcnow() - timedelta(days=40),
            expires_at=utcnow() - timedelta(days=2),
        )
        s.add(old)
        old_id = old.id
    with identity_runtime.db.session() as s:  # as the scheduler would send it, through the contract
        identity_runtime.outbox.publish(s, "identity.purge_expired_sessions", {})

    def gone() -> bool:
        with identity_runtime.db.session() as s:
            return s.get(RefreshSession, old_id) is None

    wait_for(gone, timeout=30, message="the expired session to be purged")
    with identity_runtime.db.session() as s:  # the live session of the login stays
        assert s.execute(select(RefreshSession).where(RefreshSession.user_id == uuid.UUID(user["id"]))).first()


def test_a_user_change_leaves_for_the_read_model_of_notifications(
    client, admin_headers, world, identity_settings, identity_runtime
):
    r = redis.Redis.from_url(identity_settings.broker_url)
    r.delete("notifications")  # no notifications worker yet: the message waits in its queue
    tenant = world.tenant()
    resp = client.post(
        "/users",
        headers=admin_headers,
        json={
            "email": "gramatvede@example.test",
            "full_name": "Ilze Grāmatvede",
            "tenant_id": tenant["id"],
            "password": "accountant-pass-1",
            "roles": [{"role": "accountant", "tenant_id": tenant["id"]}],
        },
    )
    assert resp.status_code == 201

    def delivered(queue: str) -> list[dict]:
        bodies = []
        for raw in r.lrange(queue, 0, -1):
            msg = json.loads(raw)
            body = json.loads(__import__("base64").b64decode(msg["body"]))
            bodies.append({"task": msg["headers"]["task"], "kwargs": body[1]})
        return [
            b
            for b in bodies
            if b["task"].endswith("sync_user") and b["kwargs"]["message"]["payload"]["user_id"] == resp.json["id"]
        ]

    for queue in ("notifications",):
        [msg] = wait_for(lambda q=queue: delivered(q), message=f"user_changed on {queue}")
        payload = msg["kwargs"]["message"]["payload"]
        assert payload["email"] == "gramatvede@example.test"
        assert payload["roles"] == [
            {"role": "accountant", "tenant_id": tenant["id"], "school_id": None, "region": None}
        ]
        assert "password" not in json.dumps(msg) and "argon2" not in json.dumps(msg)
    with identity_runtime.db.session() as s:
        assert s.execute(select(User).where(User.email == "gramatvede@example.test")).scalar_one().revision == 1
