"""Who administers what: tenants, users and role grants by scope, listings, audit and events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select

from services.identity.models import MESSAGING, AuditEvent, RoleGrant, School, Tenant, User

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
STAFF_ROLES = ("teacher", "plan_preparer", "support_provider", "accountant")


def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    assert resp.json["code"] == code, resp.json
    return resp.json


COUNTED = (
    Tenant.__table__,
    School.__table__,
    User.__table__,
    RoleGrant.__table__,
    AuditEvent.__table__,
    MESSAGING.outbox,
)


def snapshot(runtime: Any) -> dict[str, int]:
    with runtime.db.session() as s:
        return {str(t): s.execute(select(func.count()).select_from(t)).scalar_one() for t in COUNTED}


@contextmanager
def nothing_changes(runtime: Any) -> Iterator[None]:
    """The requests inside are refused: no row of any admin table, audit or outbox moves."""
    before = snapshot(runtime)
    yield
    assert snapshot(runtime) == before, "a refused request changed the database"


def reg_no() -> str:
    return str(uuid.uuid4().int)[:11]


def user_body(tenant: dict[str, Any] | None, *roles: dict[str, Any], name: str = "New User") -> dict[str, Any]:
    return {
        "email": f"n{uuid.uuid4().hex[:10]}@example.test",
        "full_name": name,
        "tenant_id": tenant["id"] if tenant else None,
        "password": "initial-password-1",
        "roles": list(roles),
    }


def role(name: str, tenant: dict[str, Any], school: str | None = None) -> dict[str, Any]:
    return {"role": name, "tenant_id": tenant["id"], "school_id": school}


def grant(client: Any, headers: dict[str, str], user_id: str, body: dict[str, Any]) -> Any:
    return client.post(f"/users/{user_id}/roles", headers=headers, json=body)


def tenant_body(kind: str = "municipality", region: str = "kurzeme", name: str = "Ugāles pagasts") -> dict[str, Any]:
    return {"kind": kind, "name": name, "registration_number": reg_no(), "region": region, "student_count": 50}


def town(world: Any, region: str, name: str | None = None) -> dict[str, Any]:
    """A municipality with two schools."""
    tenant = world.tenant(region=region, name=name)
    tenant["school"], tenant["other_school"] = world.school(tenant), world.school(tenant)
    return tenant


@pytest.fixture()
def kurzeme(world: Any) -> dict[str, Any]:
    return town(world, "kurzeme")


@pytest.fixture()
def latgale(world: Any) -> dict[str, Any]:
    return town(world, "latgale")


@pytest.fixture()
def regional(world: Any) -> dict[str, Any]:
    return world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})


@pytest.fixture()
def municipal(world: Any, kurzeme: dict[str, Any]) -> dict[str, Any]:
    return world.user(kurzeme, role("municipality_coordinator", kurzeme))


# ---- tenants ---------------------------------------------------------------------------------------
def test_only_the_platform_admin_creates_tenants(
    client, admin_headers, world, kurzeme, regional, municipal, identity_runtime
):
    school = world.user(kurzeme, role("school_coordinator", kurzeme, kurzeme["school"]))
    with nothing_changes(identity_runtime):
        for caller in (regional, municipal, school):
            problem(client.post("/tenants", headers=caller["headers"], json=tenant_body()), 403, "forbidden")
            problem(
                client.patch(f"/tenants/{kurzeme['id']}", headers=caller["headers"], json={"name": "X pagasts"}),
                403,
                "forbidden",
            )
    resp = client.post("/tenants", headers=admin_headers, json=tenant_body())
    assert resp.status_code == 201 and resp.json["schools"] == [] and resp.json["school"] is None


def test_creating_a_vocational_school_tenant_creates_its_one_school(client, admin_headers):
    body = tenant_body(kind="vocational_school", name="Liepājas Valsts tehnikums")
    resp = client.post("/tenants", headers=admin_headers, json=body)
    assert resp.status_code == 201
    [school] = resp.json["schools"]
    # issue 13: the answer names the school record made for it, the school_id its staff and students need
    assert resp.json["school"] == school
    assert client.get(f"/tenants/{resp.json['id']}", headers=admin_headers).json["school"] == school
    assert school["kind"] == "vocational" and school["name"] == body["name"]
    assert school["registration_number"] == body["registration_number"] and school["tenant_id"] == resp.json["id"]
    listed = client.get(f"/tenants/{resp.json['id']}/schools", headers=admin_headers).json
    assert [s["id"] for s in listed] == [school["id"]]
    more = client.post(
        f"/tenants/{resp.json['id']}/schools",
        headers=admin_headers,
        json={"name": "Filiāle", "registration_number": reg_no()},
    )
    problem(more, 409, "tenant_not_municipality")


# ---- regional coordinator --------------------------------------------------------------------------
def test_a_regional_coordinator_sets_up_users_with_school_roles_in_the_region(client, regional, kurzeme):
    body = user_body(kurzeme, role("director", kurzeme, kurzeme["school"]))
    resp = client.post("/users", headers=regional["headers"], json=body)
    assert resp.status_code == 201, resp.json
    for name in ("school_coordinator", "teacher"):
        assert (
            grant(client, regional["headers"], resp.json["id"], role(name, kurzeme, kurzeme["school"])).status_code
            == 201
        )
    roles = client.get(f"/users/{resp.json['id']}", headers=regional["headers"]).json["roles"]
    assert sorted(r["role"] for r in roles) == ["director", "school_coordinator", "teacher"]


def test_a_regional_coordinator_gets_not_found_for_a_tenant_of_another_region(
    client, world, regional, latgale, identity_runtime
):
    there = world.user(latgale)
    with nothing_changes(identity_runtime):
        problem(client.post("/users", headers=regional["headers"], json=user_body(latgale)), 404, "not_found")
        problem(client.get(f"/tenants/{latgale['id']}", headers=regional["headers"]), 404, "not_found")
        problem(client.get(f"/users/{there['id']}", headers=regional["headers"]), 404, "not_found")
        problem(
            grant(client, regional["headers"], there["id"], role("teacher", latgale, latgale["school"])),
            404,
            "not_found",
        )


@pytest.mark.parametrize(
    "platform_role", [{"role": "platform_admin"}, {"role": "regional_coordinator", "region": "kurzeme"}]
)
def test_a_regional_coordinator_cannot_grant_platform_roles(
    client, world, regional, kurzeme, platform_role, identity_runtime
):
    target = world.user(kurzeme)
    with nothing_changes(identity_runtime):
        problem(grant(client, regional["headers"], target["id"], platform_role), 403, "grant_not_allowed")
        problem(
            client.post("/users", headers=regional["headers"], json=user_body(kurzeme, platform_role)),
            403,
            "grant_not_allowed",
        )
        problem(
            client.post("/users", headers=regional["headers"], json=user_body(None, platform_role)), 403, "forbidden"
        )


# ---- municipality coordinator ----------------------------------------------------------------------
def test_a_municipality_coordinator_manages_the_users_of_its_municipality(client, kurzeme, municipal):
    resp = client.post("/users", headers=municipal["headers"], json=user_body(kurzeme))
    assert resp.status_code == 201
    for name in ("director", "school_coordinator"):
        assert (
            grant(client, municipal["headers"], resp.json["id"], role(name, kurzeme, kurzeme["school"])).status_code
            == 201
        )
    patched = client.patch(f"/users/{resp.json['id']}", headers=municipal["headers"], json={"full_name": "Ivars"})
    assert patched.status_code == 200 and patched.json["full_name"] == "Ivars"


def test_a_municipality_coordinator_cannot_make_or_change_another_municipality_coordinator(
    client, world, kurzeme, latgale, municipal, identity_runtime
):
    peer = world.user(kurzeme, role("municipality_coordinator", kurzeme))
    target = world.user(kurzeme)
    with nothing_changes(identity_runtime):
        problem(
            grant(client, municipal["headers"], target["id"], role("municipality_coordinator", kurzeme)),
            403,
            "grant_not_allowed",
        )
        problem(
            client.patch(f"/users/{peer['id']}", headers=municipal["headers"], json={"active": False}), 403, "forbidden"
        )
        problem(client.post("/users", headers=municipal["headers"], json=user_body(latgale)), 404, "not_found")


# ---- school coordinator ----------------------------------------------------------------------------
@pytest.fixture()
def school_coordinator(world: Any, kurzeme: dict[str, Any]) -> dict[str, Any]:
    return world.user(kurzeme, role("school_coordinator", kurzeme, kurzeme["school"]))


def test_a_school_coordinator_grants_staff_roles_in_its_own_school(client, world, kurzeme, school_coordinator):
    target = world.user(kurzeme)
    for name in STAFF_ROLES:
        resp = grant(client, school_coordinator["headers"], target["id"], role(name, kurzeme, kurzeme["school"]))
        assert resp.status_code == 201, resp.json
        assert resp.json["role"] == name and resp.json["school_id"] == kurzeme["school"]
    teacher_grant = next(
        r
        for r in client.get(f"/users/{target['id']}", headers=school_coordinator["headers"]).json["roles"]
        if r["role"] == "teacher"
    )
    resp = client.delete(f"/users/{target['id']}/roles/{teacher_grant['id']}", headers=school_coordinator["headers"])
    assert resp.status_code == 204


@pytest.mark.parametrize("name", ["director", "school_coordinator"])
def test_a_school_coordinator_cannot_grant_leadership_roles(
    client, world, kurzeme, school_coordinator, name, identity_runtime
):
    target = world.user(kurzeme)
    with nothing_changes(identity_runtime):
        problem(
            grant(client, school_coordinator["headers"], target["id"], role(name, kurzeme, kurzeme["school"])),
            403,
            "grant_not_allowed",
        )


def test_a_school_coordinator_cannot_grant_in_another_school_of_its_tenant(
    client, world, kurzeme, school_coordinator, identity_runtime
):
    target = world.user(kurzeme)
    with nothing_changes(identity_runtime):
        for name in STAFF_ROLES:
            problem(
                grant(
                    client, school_coordinator["headers"], target["id"], role(name, kurzeme, kurzeme["other_school"])
                ),
                403,
                "grant_not_allowed",
            )


def test_a_school_coordinator_cannot_change_a_director(client, world, kurzeme, school_coordinator, identity_runtime):
    director = world.user(kurzeme, role("director", kurzeme, kurzeme["school"]))
    with nothing_changes(identity_runtime):
        headers = school_coordinator["headers"]
        problem(client.patch(f"/users/{director['id']}", headers=headers, json={"full_name": "Cits"}), 403, "forbidden")
        problem(client.post(f"/users/{director['id']}/sessions/revoke", headers=headers), 403, "forbidden")
        problem(grant(client, headers, director["id"], role("teacher", kurzeme, kurzeme["school"])), 403, "forbidden")
    assert client.get("/auth/me", headers=director["headers"]).status_code == 200


# ---- self-administration ---------------------------------------------------------------------------
def test_nobody_but_the_platform_admin_administers_their_own_account(
    client, admin_headers, kurzeme, regional, municipal, school_coordinator, identity_runtime
):
    with nothing_changes(identity_runtime):
        for caller in (regional, municipal, school_coordinator):
            me = caller["id"]
            problem(
                client.patch(f"/users/{me}", headers=caller["headers"], json={"full_name": "Es pats"}),
                403,
                "self_administration",
            )
            problem(
                grant(client, caller["headers"], me, role("teacher", kurzeme, kurzeme["school"])),
                403,
                "self_administration",
            )
            problem(client.post(f"/users/{me}/sessions/revoke", headers=caller["headers"]), 403, "self_administration")
    admin_id = client.get("/auth/me", headers=admin_headers).json["id"]
    resp = client.patch(f"/users/{admin_id}", headers=admin_headers, json={"language": "en"})
    assert resp.status_code == 200 and resp.json["language"] == "en"


# ---- grant shape -----------------------------------------------------------------------------------
def test_grants_whose_scope_cannot_exist_are_422(client, admin_headers, world, kurzeme, latgale, identity_runtime):
    target = world.user(kurzeme)
    with nothing_changes(identity_runtime):
        cases = [
            (role("director", kurzeme), "grant_scope_invalid"),
            (role("teacher", kurzeme, latgale["school"]), "grant_scope_invalid"),
            (role("municipality_coordinator", kurzeme, kurzeme["school"]), "grant_scope_invalid"),
            ({"role": "regional_coordinator"}, "grant_scope_invalid"),
            (role("teacher", latgale, latgale["school"]), "grant_tenant_mismatch"),
            ({"role": "regional_coordinator", "region": "kurzeme"}, "grant_tenant_mismatch"),
        ]
        for body, code in cases:
            assert "role" in problem(grant(client, admin_headers, target["id"], body), 422, code)["errors"]
        mismatched = user_body(kurzeme, role("teacher", latgale, latgale["school"]))
        problem(client.post("/users", headers=admin_headers, json=mismatched), 422, "grant_tenant_mismatch")


# ---- listings and visibility -----------------------------------------------------------------------
@pytest.fixture()
def people(client, admin_headers, world, kurzeme, latgale) -> dict[str, Any]:
    other, made = town(world, "kurzeme", "Brocenu novads"), {}
    for name, tenant, grants in [
        ("Anna Ozola", kurzeme, [role("teacher", kurzeme, kurzeme["school"])]),
        ("Janis Kalns", kurzeme, [role("director", kurzeme, kurzeme["school"])]),
        ("Peteris Liepa", kurzeme, [role("teacher", kurzeme, kurzeme["other_school"])]),
        ("Ilze Berza", other, [role("teacher", other, other["school"])]),
        ("Olga Priede", latgale, [role("teacher", latgale, latgale["school"])]),
    ]:
        resp = client.post("/users", headers=admin_headers, json=user_body(tenant, *grants, name=name))
        assert resp.status_code == 201, resp.json
        made[name] = resp.json["id"]
    return {"ids": made, "other": other}


def names(resp: Any) -> list[str]:
    return [u["full_name"] for u in resp.json["items"]]


def test_user_lists_show_only_what_the_callers_scope_reaches(client, kurzeme, regional, municipal, people):
    region_list = client.get("/users", headers=regional["headers"]).json
    assert sorted(u["full_name"] for u in region_list["items"]) == sorted(
        ["Anna Ozola", "Janis Kalns", "Peteris Liepa", "Ilze Berza", "Test User"]
    )
    assert region_list["total"] == 5
    h = municipal["headers"]
    assert sorted(names(client.get("/users", headers=h))) == ["Anna Ozola", "Janis Kalns", "Peteris Liepa", "Test User"]
    assert names(client.get("/users?role=teacher", headers=h)) == ["Anna Ozola", "Peteris Liepa"]
    assert names(client.get(f"/users?school_id={kurzeme['school']}", headers=h)) == ["Anna Ozola", "Janis Kalns"]
    assert names(client.get("/users?q=LIEP", headers=h)) == ["Peteris Liepa"]
    assert names(client.get("/users?q=%25", headers=h)) == []  # a wildcard is taken literally
    elsewhere = client.get(f"/users?tenant_id={people['other']['id']}", headers=h).json
    assert elsewhere["items"] == [] and elsewhere["total"] == 0


def test_user_list_pages_carry_the_envelope_and_cover_everyone_once(client, admin_headers, people):
    everyone = client.get("/users?page_size=500", headers=admin_headers).json
    total = everyone["total"]
    assert total == len(everyone["items"]) == 6  # five people and the admin
    seen: list[str] = []
    for page in (1, 2, 3):
        body = client.get(f"/users?page={page}&page_size=2", headers=admin_headers).json
        assert (body["page"], body["page_size"], body["total"]) == (page, 2, total)
        seen += [u["id"] for u in body["items"]]
    assert seen == [u["id"] for u in everyone["items"]]
    beyond = client.get("/users?page=4&page_size=2", headers=admin_headers).json
    assert beyond == {"items": [], "page": 4, "page_size": 2, "total": total}


def test_tenant_lists_show_only_the_callers_tenants_with_filters(
    client, admin_headers, world, kurzeme, latgale, regional, municipal, people
):
    voc = world.tenant(kind="vocational_school", region="kurzeme", name="Ventspils tehnikums")
    region_view = client.get("/tenants", headers=regional["headers"]).json
    assert {t["id"] for t in region_view["items"]} == {kurzeme["id"], people["other"]["id"], voc["id"]}
    assert region_view["total"] == 3
    assert client.get("/tenants?region=latgale", headers=regional["headers"]).json["total"] == 0
    assert [t["id"] for t in client.get("/tenants?region=latgale", headers=admin_headers).json["items"]] == [
        latgale["id"]
    ]
    assert [t["id"] for t in client.get("/tenants?q=brocenu", headers=admin_headers).json["items"]] == [
        people["other"]["id"]
    ]
    assert [t["id"] for t in client.get("/tenants?kind=vocational_school", headers=admin_headers).json["items"]] == [
        voc["id"]
    ]
    paged = client.get("/tenants?page=2&page_size=1", headers=regional["headers"]).json
    assert (len(paged["items"]), paged["page"], paged["page_size"], paged["total"]) == (1, 2, 1, 3)
    own = client.get("/tenants", headers=municipal["headers"]).json
    assert [t["id"] for t in own["items"]] == [kurzeme["id"]] and own["total"] == 1


def test_a_teacher_cannot_list_users_but_can_read_their_own_profile(client, world, kurzeme, people):
    teacher = world.user(kurzeme, role("teacher", kurzeme, kurzeme["school"]))
    problem(client.get("/users", headers=teacher["headers"]), 403, "forbidden")
    me = client.get("/auth/me", headers=teacher["headers"])
    assert me.status_code == 200 and me.json["id"] == teacher["id"]
    assert [(r["role"], r["school_id"]) for r in me.json["roles"]] == [("teacher", kurzeme["school"])]
    problem(client.get(f"/users/{people['ids']['Anna Ozola']}", headers=teacher["headers"]), 404, "not_found")


def test_users_and_tenants_of_another_tenant_are_not_found(client, municipal, latgale, people):
    h = municipal["headers"]
    problem(client.get(f"/users/{people['ids']['Olga Priede']}", headers=h), 404, "not_found")
    problem(client.get(f"/users/{people['ids']['Ilze Berza']}", headers=h), 404, "not_found")
    problem(client.get(f"/tenants/{latgale['id']}", headers=h), 404, "not_found")
    problem(client.get(f"/tenants/{latgale['id']}/schools", headers=h), 404, "not_found")
    assert client.get(f"/users/{people['ids']['Anna Ozola']}", headers=h).status_code == 200


def test_a_school_or_tenant_of_another_tenant_in_a_grant_is_not_found_like_a_missing_one(
    client, world, municipal, kurzeme, latgale, identity_runtime
):
    """Naming another tenant's school in a grant answers word for word as naming none (it was a 422 that the
    school "does not belong to that tenant", telling anyone that the id is a school)."""
    h, target = municipal["headers"], world.user(kurzeme)
    missing = {"id": str(uuid.uuid4())}

    def words(resp: Any) -> tuple[int, dict[str, Any]]:
        return resp.status_code, {k: v for k, v in resp.json.items() if k not in ("instance", "request_id")}

    with nothing_changes(identity_runtime):
        for foreign, ghost in (
            (role("teacher", kurzeme, latgale["school"]), role("teacher", kurzeme, missing["id"])),
            (role("teacher", latgale, latgale["school"]), role("teacher", missing, str(uuid.uuid4()))),
        ):
            answered = words(grant(client, h, target["id"], foreign))
            assert answered == words(grant(client, h, target["id"], ghost))
            assert answered[0] == 404 and answered[1]["code"] == "not_found"
            made = words(client.post("/users", headers=h, json=user_body(kurzeme, foreign)))
            assert made == words(client.post("/users", headers=h, json=user_body(kurzeme, ghost))) == answered


# ---- audit and events ------------------------------------------------------------------------------
def audit_actions(runtime: Any, target_id: str) -> list[str]:
    with runtime.db.session() as s:
        return list(
            s.execute(
                select(AuditEvent.action).where(AuditEvent.target_id == target_id).order_by(AuditEvent.id)
            ).scalars()
        )


def outbox(runtime: Any) -> list[Any]:
    with runtime.db.session() as s:
        return list(s.execute(select(MESSAGING.outbox).order_by(MESSAGING.outbox.c.created_at)).all())


def test_every_user_change_is_audited_and_published_without_secrets(client, admin_headers, kurzeme, identity_runtime):
    admin_id = client.get("/auth/me", headers=admin_headers).json["id"]
    seen = {r.id for r in outbox(identity_runtime)}
    created = client.post("/users", headers=admin_headers, json=user_body(kurzeme)).json
    uid = created["id"]
    gid = grant(client, admin_headers, uid, role("teacher", kurzeme, kurzeme["school"])).json["id"]
    client.patch(f"/users/{uid}", headers=admin_headers, json={"full_name": "Renamed", "password": "another-pass-12"})
    client.delete(f"/users/{uid}/roles/{gid}", headers=admin_headers)
    client.post(f"/users/{uid}/unlock", headers=admin_headers)
    client.post(f"/users/{uid}/sessions/revoke", headers=admin_headers)
    assert audit_actions(identity_runtime, uid) == [
        "user.created",
        "role.granted",
        "user.updated",
        "role.revoked",
        "user.unlocked",
        "user.sessions_revoked",
    ]
    with identity_runtime.db.session() as s:
        actors = set(s.execute(select(AuditEvent.actor_id).where(AuditEvent.target_id == uid)).scalars())
    assert actors == {uuid.UUID(admin_id)}
    rows = [r for r in outbox(identity_runtime) if r.id not in seen]
    assert sorted(r.task_name for r in rows) == sorted(["plans.sync_user", "notifications.sync_user"] * 4)
    for row in rows:
        assert row.payload["user_id"] == uid
        text = json.dumps(row.payload).lower()
        assert "password" not in text and "hash" not in text and "argon2" not in text
    assert [r.payload["revision"] for r in rows if r.task_name == "plans.sync_user"] == [1, 2, 3, 4]


def test_every_tenant_and_school_change_is_audited_and_published(client, admin_headers, identity_runtime):
    seen = {r.id for r in outbox(identity_runtime)}
    tenant = client.post("/tenants", headers=admin_headers, json=tenant_body()).json
    school = client.post(
        f"/tenants/{tenant['id']}/schools",
        headers=admin_headers,
        json={"name": "Ugāles vidusskola", "registration_number": reg_no()},
    ).json
    client.patch(f"/tenants/{tenant['id']}", headers=admin_headers, json={"student_count": 75})
    client.patch(f"/schools/{school['id']}", headers=admin_headers, json={"student_count": 40})
    assert audit_actions(identity_runtime, tenant["id"]) == ["tenant.created", "tenant.updated"]
    assert audit_actions(identity_runtime, school["id"]) == ["school.created", "school.updated"]
    rows = [r for r in outbox(identity_runtime) if r.id not in seen]
    targets = ["plans.sync_tenant", "finance.sync_tenant", "notifications.sync_tenant"]
    assert sorted(r.task_name for r in rows) == sorted(targets * 4)
    last = [r.payload for r in rows if r.task_name == "finance.sync_tenant"][-1]
    assert last["student_count"] == 75 and last["schools"][0]["student_count"] == 40


def test_a_deactivated_tenant_ends_its_users_sessions_and_logins(client, admin_headers, world):
    tenant = world.tenant()
    user = world.user(tenant, {"role": "accountant", "tenant_id": tenant["id"]})
    assert client.get("/auth/me", headers=user["headers"]).status_code == 200
    resp = client.patch(f"/tenants/{tenant['id']}", headers=admin_headers, json={"active": False})
    assert resp.status_code == 200 and resp.json["active"] is False
    assert client.get("/auth/me", headers=user["headers"]).json["code"] == "session_revoked"
    again = client.post("/auth/login", json={"email": user["email"], "password": user["password"]})
    assert again.status_code == 401 and again.json["code"] == "invalid_credentials"
    refreshed = client.post("/auth/refresh", json={"refresh_token": user["tokens"]["refresh_token"]})
    assert refreshed.status_code == 401


def test_a_school_coordinator_cannot_change_staff_of_another_school(client, world):
    tenant = world.tenant()
    school_a, school_b = world.school(tenant), world.school(tenant)
    coord = world.user(tenant, {"role": "school_coordinator", "tenant_id": tenant["id"], "school_id": school_a})
    teacher_b = world.user(tenant, {"role": "teacher", "tenant_id": tenant["id"], "school_id": school_b})
    teacher_a = world.user(tenant, {"role": "teacher", "tenant_id": tenant["id"], "school_id": school_a})
    denied = client.patch(f"/users/{teacher_b['id']}", headers=coord["headers"], json={"active": False})
    assert denied.status_code == 403
    assert client.post(f"/users/{teacher_b['id']}/sessions/revoke", headers=coord["headers"]).status_code == 403
    allowed = client.patch(f"/users/{teacher_a['id']}", headers=coord["headers"], json={"full_name": "Jānis Ozols"})
    assert allowed.status_code == 200 and allowed.json["full_name"] == "Jānis Ozols"


def test_refused_roles_and_missing_tokens_come_before_body_validation(client, world):
    tenant = world.tenant()
    teacher = world.user(
        tenant,
        {"role": "teacher", "tenant_id": tenant["id"], "school_id": tenant["schools"][0]}
        if tenant["schools"]
        else {"role": "accountant", "tenant_id": tenant["id"]},
    )
    bad_body = {"kind": "nonsense", "unknown": 1}
    assert client.post("/tenants", json=bad_body).status_code == 401
    assert client.post("/tenants", json=bad_body, headers=teacher["headers"]).status_code == 403
    assert client.post("/users", json=bad_body).status_code == 401
