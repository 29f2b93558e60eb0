"""Notifications' audit: a webhook made, changed, given a new secret and deleted, and a preference set,
each leave a record (who, which webhook or person, the tenant, the request); never the secret, never the
path or query of the receiver's URL."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from services.notifications.models import AuditEvent
from tests.integration.notifications.conftest import staff_grants

pytestmark = pytest.mark.integration


def test_webhook_changes_and_preferences_are_recorded_without_secrets_or_paths(notifs, cast, receiver, notif_runtime):
    tenant = cast.tenant()
    cast.person("municipality", tenant, staff_grants(tenant)["municipality"])
    cast.person("auditor", tenant, {"role": "auditor", "tenant_id": tenant["id"]})
    who = cast.headers("municipality")
    url = receiver.url.rstrip("/") + "/hooks/t0ken-in-the-path?key=s3cret-in-the-query"
    made = notifs.post("/webhooks", json={"url": url}, headers={**who, "X-Request-ID": "hook-1"})
    assert made.status_code == 201, made.json
    path = f"/webhooks/{made.json['id']}"
    assert notifs.patch(path, json={"description": "Pašvaldības sistēma"}, headers=who).status_code == 200
    rotated = notifs.post(f"{path}/rotate-secret", headers=who).json
    assert notifs.delete(path, headers=who).status_code == 204
    choice = {"email": False, "inbox": True, "mode": "immediate"}
    chosen = notifs.put("/preferences/plan_returned", json=choice, headers=who)
    assert chosen.status_code == 200, chosen.json

    with notif_runtime.db.session() as s:
        rows = list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    me = cast.people["municipality"]["id"]
    assert [(r.action, str(r.actor_id), str(r.tenant_id)) for r in rows] == [
        ("webhook.created", me, tenant["id"]),
        ("webhook.changed", me, tenant["id"]),
        ("webhook.secret_rotated", me, tenant["id"]),
        ("webhook.deleted", me, tenant["id"]),
        ("preference.set", me, tenant["id"]),
    ]
    assert rows[0].request_id == "hook-1" and rows[0].target_id == made.json["id"]
    parts = urlsplit(receiver.url)
    assert rows[0].details["url"] == f"{parts.scheme}://{parts.hostname}:{parts.port}"
    assert rows[1].details["fields"] == ["description"]
    assert rows[4].target_id == me and rows[4].details == {"kind": "plan_returned", **choice}
    text = str([(r.details, r.target_id) for r in rows])
    for secret in (made.json["secret"], rotated["secret"], "t0ken-in-the-path", "s3cret-in-the-query"):
        assert secret not in text
    seen = notifs.get("/audit", headers=cast.headers("auditor"), query_string={"target_id": made.json["id"]}).json
    assert [i["action"] for i in seen["items"]] == [r.action for r in reversed(rows[:4])]  # newest first
