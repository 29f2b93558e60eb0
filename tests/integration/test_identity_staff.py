"""Issue 13: a school's staff directory, so a preparer and a provider can pick an agreement's or a
consultation's provider: names, roles and user ids of the caller's school, never another's, never contact data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import World

pytestmark = pytest.mark.integration


def _school_staff(world: World, tenant: dict[str, Any], school: str, *names: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        world.user(tenant, {"role": role, "tenant_id": tenant["id"], "school_id": school}, full_name=name)
        for name, role in names
    ]


def test_a_preparer_and_a_provider_list_their_schools_staff_and_nobody_elses(client, world, admin_headers):
    town = world.tenant(region="kurzeme")
    school, other_school = world.school(town), world.school(town)
    preparer, provider, coordinator, director = _school_staff(
        world,
        town,
        school,
        ("Pēteris Plānotājs", "plan_preparer"),
        ("Ilze Psiholoģe", "support_provider"),
        ("Kārlis Koordinators", "school_coordinator"),
        ("Dace Direktore", "director"),
    )
    world.user(town, {"role": "teacher", "tenant_id": town["id"], "school_id": school}, full_name="Teodors Teachers")
    accountant = world.user(town, {"role": "accountant", "tenant_id": town["id"]}, full_name="Anita Grāmatvede")
    [elsewhere] = _school_staff(world, town, other_school, ("Cita Skola", "support_provider"))
    stranger_town = world.tenant(region="kurzeme")
    stranger_school = world.school(stranger_town)
    [stranger] = _school_staff(world, stranger_town, stranger_school, ("Svešs Sniedzējs", "support_provider"))
    gone = world.user(town, {"role": "support_provider", "tenant_id": town["id"], "school_id": school})
    assert client.patch(f"/users/{gone['id']}", headers=admin_headers, json={"active": False}).status_code == 200

    for caller in (preparer, provider):
        resp = client.get("/staff", headers=caller["headers"])
        assert resp.status_code == 200, resp.json
        people = {p["full_name"]: p for p in resp.json["items"]}
        assert set(people) == {
            "Pēteris Plānotājs",
            "Ilze Psiholoģe",
            "Kārlis Koordinators",
            "Dace Direktore",
            "Teodors Teachers",
            "Anita Grāmatvede",  # tenant-wide: staff of every school of the municipality
        }
        assert resp.json["total"] == 6
        assert people["Ilze Psiholoģe"] == {
            "user_id": provider["id"],
            "full_name": "Ilze Psiholoģe",
            "school_id": school,
            "roles": ["support_provider"],
        }
        assert all(set(p) == {"user_id", "full_name", "school_id", "roles"} for p in people.values())
        assert "@" not in resp.get_data(as_text=True)  # no e-mail, no contact data
    # the picker of an agreement's provider, and of a compensation's coordinator
    providers = client.get("/staff?role=support_provider", headers=preparer["headers"]).json["items"]
    assert [p["user_id"] for p in providers] == [provider["id"]]
    coordinators = client.get("/staff?role=school_coordinator&q=kārlis", headers=provider["headers"]).json["items"]
    assert [p["user_id"] for p in coordinators] == [coordinator["id"]]
    assert client.get("/staff?q=%25", headers=preparer["headers"]).json["total"] == 0  # a wildcard is only text

    # another school's, another tenant's: not found; a tenant-wide role says which school
    for school_id in (other_school, stranger_school):
        resp = client.get(f"/staff?school_id={school_id}", headers=preparer["headers"])
        assert resp.status_code == 404 and resp.json["code"] == "not_found"
    assert client.get("/staff", headers=accountant["headers"]).json["code"] == "school_required"
    theirs = client.get(f"/staff?school_id={other_school}", headers=accountant["headers"]).json["items"]
    assert {p["user_id"] for p in theirs} == {elsewhere["id"], accountant["id"]}
    assert client.get(f"/staff?school_id={school}", headers=stranger["headers"]).status_code == 404
    assert director["id"] in {p["user_id"] for p in client.get("/staff", headers=director["headers"]).json["items"]}
    assert client.get("/staff").status_code == 401
