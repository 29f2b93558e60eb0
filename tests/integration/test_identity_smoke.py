import pytest

pytestmark = pytest.mark.integration


def test_a_school_coordinator_set_up_by_the_admin_can_log_in(client, admin_headers, world):
    tenant = world.tenant()
    school = world.school(tenant)
    resp = client.post(
        "/users",
        headers=admin_headers,
        json={
            "email": "koord@ugale.test",
            "full_name": "Anna Bērziņa",
            "tenant_id": tenant["id"],
            "password": "coordinator-pass-1",
            "roles": [{"role": "school_coordinator", "tenant_id": tenant["id"], "school_id": school}],
        },
    )
    assert resp.status_code == 201, resp.json
    login = client.post("/auth/login", json={"email": "koord@ugale.test", "password": "coordinator-pass-1"})
    assert login.status_code == 200
    me = client.get("/auth/me", headers={"Authorization": "Bearer " + login.json["access_token"]})
    assert me.json["roles"][0]["role"] == "school_coordinator"
