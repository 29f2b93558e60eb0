"""Identity's audit on the real database: each change through HTTP leaves one record with who, what,
target, tenant, when and the request's id; `GET /audit` shows them to admins and auditors in scope."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from services.identity.models import AuditEvent
from tests.integration.conftest import bearer, login

pytestmark = pytest.mark.integration


def records(runtime: Any, **where: Any) -> list[AuditEvent]:
    with runtime.db.session() as s:
        query = select(AuditEvent).order_by(AuditEvent.id)
        for key, value in where.items():
            query = query.where(getattr(AuditEvent, key) == value)
        return list(s.execute(query).scalars())


def test_each_change_records_who_what_target_tenant_and_the_request(client, admin_headers, identity_runtime):
    admin_id = client.get("/auth/me", headers=admin_headers).json["id"]
    made = client.post(
        "/tenants",
        headers={**admin_headers, "X-Request-ID": "audit-test-tenant"},
        json={"kind": "municipality", "name": "Talsu novads", "registration_number": "90009113532", "region": "riga"},
    )
    assert made.status_code == 201
    tenant_id = made.json["id"]
    [created] = records(identity_runtime, action="tenant.created", target_id=tenant_id)
    assert (created.actor_id and str(created.actor_id), created.target_type, str(created.tenant_id)) == (
        admin_id,
        "tenant",
        tenant_id,
    )
    assert created.request_id == "audit-test-tenant" and created.details == {"name": "Talsu novads"}

    # a change that changes nothing records nothing
    same = client.patch(f"/tenants/{tenant_id}", headers=admin_headers, json={"name": "Talsu novads"})
    assert same.status_code == 200 and records(identity_runtime, action="tenant.updated") == []
    renamed = client.patch(f"/tenants/{tenant_id}", headers=admin_headers, json={"name": "Talsu nov."})
    [updated] = records(identity_runtime, action="tenant.updated")
    assert updated.details == {"fields": ["name"]} and updated.request_id == renamed.headers["X-Request-ID"]

    user = client.post(
        "/users",
        headers=admin_headers,
        json={
            "email": "koord@talsi.lv",
            "full_name": "Anna Bērziņa",
            "tenant_id": tenant_id,
            "password": "at-least-12-chars",
            "roles": [{"role": "municipality_coordinator", "tenant_id": tenant_id}],
        },
    ).json
    tokens = login(client, "koord@talsi.lv", "at-least-12-chars")
    [logged_in] = records(identity_runtime, action="user.logged_in", target_id=user["id"])
    assert str(logged_in.actor_id) == user["id"] and str(logged_in.tenant_id) == tenant_id
    assert client.post("/auth/logout", headers=bearer(tokens["access_token"]), json={}).status_code == 204
    [ended] = records(identity_runtime, action="session.ended")
    assert str(ended.actor_id) == user["id"] and ended.details == {"reason": "logout"}

    rotated = client.post("/keys/rotate", headers=admin_headers)
    [key] = records(identity_runtime, action="key.rotated")
    assert key.target_id == rotated.json["kid"] and key.tenant_id is None and str(key.actor_id) == admin_id
    # nothing personal in any record: no e-mail, no name, no password
    for row in records(identity_runtime):
        assert "koord@talsi.lv" not in str(row.details) and "Bērziņa" not in str(row.details)
        assert "at-least-12-chars" not in str(row.details)


@pytest.fixture()
def two_tenants(world: Any) -> dict[str, Any]:
    a, b = world.tenant(region="kurzeme"), world.tenant(region="latgale")
    school = world.school(a)
    return {
        "a": a,
        "b": b,
        "auditor_a": world.user(a, {"role": "auditor", "tenant_id": a["id"]}),
        "regional_auditor": world.user(None, {"role": "auditor", "region": "kurzeme"}),
        "school_auditor": world.user(a, {"role": "auditor", "tenant_id": a["id"], "school_id": school}),
        "coordinator_a": world.user(a, {"role": "municipality_coordinator", "tenant_id": a["id"]}),
    }


def tenants_seen(client: Any, user: dict[str, Any], **params: Any) -> set[str | None]:
    resp = client.get("/audit", headers=user["headers"], query_string={"page_size": 500, **params})
    assert resp.status_code == 200, resp.json
    return {item["tenant_id"] for item in resp.json["items"]}


def test_audit_records_are_read_by_admins_and_by_auditors_of_their_tenants_or_region(
    client, admin_headers, two_tenants
):
    a, b = two_tenants["a"]["id"], two_tenants["b"]["id"]
    admin = {"headers": admin_headers}
    assert {a, b, None} <= tenants_seen(client, admin)
    assert tenants_seen(client, two_tenants["auditor_a"]) == {a}
    assert tenants_seen(client, two_tenants["regional_auditor"]) == {a}  # Kurzeme's tenants
    assert tenants_seen(client, two_tenants["school_auditor"]) == set()  # a school is not where audits are kept
    refused = client.get("/audit", headers=two_tenants["coordinator_a"]["headers"])
    assert refused.status_code == 403 and refused.json["code"] == "forbidden"
    assert client.get("/audit").status_code == 401


def test_audit_records_filter_by_target_action_and_time_and_come_in_pages(client, admin_headers, two_tenants):
    a = two_tenants["a"]["id"]
    mine = client.get("/audit", headers=admin_headers, query_string={"target_type": "tenant", "target_id": a})
    assert [i["action"] for i in mine.json["items"]] == ["tenant.created"]
    assert mine.json["items"][0]["target_id"] == a
    logins = client.get("/audit", headers=admin_headers, query_string={"action": "user.logged_in", "page_size": 2})
    assert logins.json["total"] >= 5 and len(logins.json["items"]) == 2  # the fixture's users logged in
    newest = logins.json["items"][0]["at"]
    assert newest >= logins.json["items"][1]["at"]  # newest first
    # `until` excludes the newest and everything after; `since` a moment from now finds nothing yet
    before = client.get(
        "/audit", headers=admin_headers, query_string={"action": "user.logged_in", "until": newest, "page_size": 500}
    )
    assert before.json["total"] == logins.json["total"] - 1
    later = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 3600))
    assert client.get("/audit", headers=admin_headers, query_string={"since": later}).json["total"] == 0
    bad = client.get("/audit", headers=admin_headers, query_string={"since": "yesterday"})
    assert bad.status_code == 422 and "since" in bad.json["errors"]
