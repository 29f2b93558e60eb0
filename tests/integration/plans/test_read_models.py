"""Plans' read models follow identity through the real broker: newer revisions replace, older are ignored."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from services.plans.models import MESSAGING, SchoolRM, TenantRM, UserRM
from tests.integration.plans.conftest import send_as
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def test_a_user_made_in_identity_reaches_plans_with_roles_and_changes_follow(
    plans_world, plans_runtime, client, admin_headers
):
    tenant = plans_world.tenant()
    teacher = plans_world.staff(tenant, "teacher", "plan_preparer")
    with plans_runtime.db.session() as s:
        rm = s.get(UserRM, uuid.UUID(teacher["id"]))
        assert {g["role"] for g in rm.roles} == {"teacher", "plan_preparer"}
        assert rm.roles[0]["school_id"] == tenant["school"] and rm.revision == 1
        assert s.get(TenantRM, uuid.UUID(tenant["id"])).region == "kurzeme"
        assert s.get(SchoolRM, uuid.UUID(tenant["school"])).tenant_id == uuid.UUID(tenant["id"])
    renamed = client.patch(f"/users/{teacher['id']}", headers=admin_headers, json={"full_name": "Jānis Bērziņš"})
    assert renamed.status_code == 200

    def renamed_in_plans() -> bool:
        with plans_runtime.db.session() as s:
            return s.get(UserRM, uuid.UUID(teacher["id"])).full_name == "Jānis Bērziņš"

    wait_for(renamed_in_plans, message="the new name in plans")


def test_an_older_revision_arriving_late_changes_nothing(plans_world, plans_runtime):
    tenant = plans_world.tenant()
    user = plans_world.staff(tenant, "director")
    stale = {
        "user_id": user["id"],
        "revision": 1,
        "tenant_id": tenant["id"],
        "email": "old@example.test",
        "full_name": "Vecs Vārds",
        "language": "lv",
        "active": False,
        "roles": [],
    }
    newer = {**stale, "revision": 5, "full_name": "Jauns Vārds", "active": True}
    send_as(plans_runtime, "plans.sync_user", newer)

    def has(name: str) -> bool:
        with plans_runtime.db.session() as s:
            return s.get(UserRM, uuid.UUID(user["id"])).full_name == name

    wait_for(lambda: has("Jauns Vārds"), message="the newer revision")
    stale_id = send_as(plans_runtime, "plans.sync_user", stale)

    def handled() -> bool:
        with plans_runtime.db.session() as s:
            t = MESSAGING.processed
            return s.execute(select(t).where(t.c.message_id == stale_id)).first() is not None

    wait_for(handled, message="the stale message handled")
    with plans_runtime.db.session() as s:
        rm = s.get(UserRM, uuid.UUID(user["id"]))
        assert (rm.full_name, rm.active, rm.revision) == ("Jauns Vārds", True, 5)
