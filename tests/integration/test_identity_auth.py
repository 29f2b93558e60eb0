"""Login, lockout, refresh rotation, logout, session revocation and signing-key rotation."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from services.identity.models import AuditEvent, RefreshSession, User
from tests.integration.conftest import ADMIN_EMAIL, bearer, login

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    """Assert an error the way a client sees it: status, problem+json, stable code."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    assert resp.json["code"] == code, resp.json
    assert resp.json["status"] == status
    return resp.json


def attempt(client: Any, email: str, password: str) -> Any:
    return client.post("/auth/login", json={"email": email, "password": password})


def me(client: Any, access_token: str) -> Any:
    return client.get("/auth/me", headers=bearer(access_token))


def refresh(client: Any, refresh_token: str) -> Any:
    return client.post("/auth/refresh", json={"refresh_token": refresh_token})


def open_sessions(runtime: Any, user_id: str) -> int:
    with runtime.db.session() as s:
        return s.execute(
            select(func.count())
            .select_from(RefreshSession)
            .where(RefreshSession.user_id == user_id, RefreshSession.revoked_at.is_(None))
        ).scalar_one()


@pytest.fixture()
def teacher(world: Any) -> dict[str, Any]:
    tenant = world.tenant()
    school = world.school(tenant)
    return world.user(tenant, {"role": "teacher", "tenant_id": tenant["id"], "school_id": school})


# ---- login and lockout ---------------------------------------------------------------------------


def test_login_with_the_right_password_gives_a_working_bearer_token_pair(client, teacher):
    resp = attempt(client, teacher["email"], teacher["password"])
    assert resp.status_code == 200
    body = resp.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["refresh_token"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == teacher["id"] and claims["typ"] == "access"
    assert claims["iss"] == "http://identity.test" and claims["aud"] == "pumpurs"
    assert me(client, body["access_token"]).json["email"] == teacher["email"]


def test_login_e_mail_is_case_insensitive(client, teacher):
    assert attempt(client, teacher["email"].upper(), teacher["password"]).status_code == 200


def test_wrong_password_and_unknown_e_mail_look_exactly_the_same(client, teacher):
    wrong = problem(attempt(client, teacher["email"], "not-the-password-1"), 401, "invalid_credentials")
    unknown = problem(attempt(client, "nobody@example.test", "not-the-password-1"), 401, "invalid_credentials")
    for body in (wrong, unknown):
        body.pop("request_id")
    assert wrong == unknown


def test_three_wrong_passwords_lock_the_account_even_against_the_right_one(client, teacher, identity_runtime):
    for _ in range(3):
        problem(attempt(client, teacher["email"], "wrong-password-1"), 401, "invalid_credentials")
    resp = attempt(client, teacher["email"], teacher["password"])
    body = problem(resp, 423, "account_locked")
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    assert body["retry_after"] == int(resp.headers["Retry-After"])
    with identity_runtime.db.session() as s:
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.target_id == teacher["id"])).scalars()
        assert "user.locked" in list(actions)


def test_a_successful_login_resets_the_failure_count(client, teacher):
    for _ in range(2):
        attempt(client, teacher["email"], "wrong-password-1")
    assert attempt(client, teacher["email"], teacher["password"]).status_code == 200
    for _ in range(2):
        attempt(client, teacher["email"], "wrong-password-1")
    assert attempt(client, teacher["email"], teacher["password"]).status_code == 200


def test_platform_admin_unlock_lets_a_locked_user_in_again(client, admin_headers, teacher):
    for _ in range(3):
        attempt(client, teacher["email"], "wrong-password-1")
    problem(attempt(client, teacher["email"], teacher["password"]), 423, "account_locked")
    assert client.get(f"/users/{teacher['id']}", headers=admin_headers).json["locked"] is True
    resp = client.post(f"/users/{teacher['id']}/unlock", headers=admin_headers)
    assert resp.status_code == 200 and resp.json["locked"] is False
    assert attempt(client, teacher["email"], teacher["password"]).status_code == 200


def test_a_deactivated_user_cannot_log_in_and_loses_their_sessions(client, admin_headers, teacher):
    resp = client.patch(f"/users/{teacher['id']}", headers=admin_headers, json={"active": False})
    assert resp.status_code == 200 and resp.json["active"] is False
    problem(attempt(client, teacher["email"], teacher["password"]), 401, "invalid_credentials")
    problem(me(client, teacher["tokens"]["access_token"]), 401, "session_revoked")
    problem(refresh(client, teacher["tokens"]["refresh_token"]), 401, "refresh_token_invalid")


# ---- refresh rotation ----------------------------------------------------------------------------


def test_refresh_gives_new_tokens_and_the_old_refresh_token_stops_working(client, teacher):
    old = teacher["tokens"]
    resp = refresh(client, old["refresh_token"])
    assert resp.status_code == 200
    new = resp.json
    assert new["refresh_token"] != old["refresh_token"] and new["access_token"] != old["access_token"]
    assert me(client, new["access_token"]).status_code == 200
    problem(refresh(client, old["refresh_token"]), 401, "refresh_token_invalid")


def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(client, teacher):
    first = teacher["tokens"]
    second = refresh(client, first["refresh_token"]).json
    other_login = login(client, teacher["email"], teacher["password"])

    problem(refresh(client, first["refresh_token"]), 401, "refresh_token_invalid")

    problem(refresh(client, second["refresh_token"]), 401, "refresh_token_invalid")
    problem(me(client, second["access_token"]), 401, "session_revoked")
    problem(me(client, first["access_token"]), 401, "session_revoked")
    # only the session whose token leaked ends; the user's other login goes on
    assert me(client, other_login["access_token"]).status_code == 200
    assert refresh(client, other_login["refresh_token"]).status_code == 200


def test_reusing_a_refresh_token_from_several_rotations_ago_also_revokes_the_session(client, teacher):
    first = teacher["tokens"]
    second = refresh(client, first["refresh_token"]).json
    third = refresh(client, second["refresh_token"]).json

    problem(refresh(client, first["refresh_token"]), 401, "refresh_token_invalid")

    problem(refresh(client, third["refresh_token"]), 401, "refresh_token_invalid")
    problem(me(client, third["access_token"]), 401, "session_revoked")


def test_an_unknown_refresh_token_is_refused(client):
    problem(refresh(client, "x" * 43), 401, "refresh_token_invalid")


# ---- logout and session revocation ---------------------------------------------------------------


def test_logout_ends_the_access_token_and_the_refresh_token(client, teacher):
    tokens = teacher["tokens"]
    resp = client.post("/auth/logout", headers=bearer(tokens["access_token"]), json={})
    assert resp.status_code == 204
    problem(me(client, tokens["access_token"]), 401, "session_revoked")
    problem(refresh(client, tokens["refresh_token"]), 401, "refresh_token_invalid")


def test_logout_leaves_the_users_other_sessions_alone(client, teacher):
    other = login(client, teacher["email"], teacher["password"])
    client.post("/auth/logout", headers=teacher["headers"], json={})
    assert me(client, other["access_token"]).status_code == 200


def test_admin_revoking_sessions_ends_every_session_of_the_user(client, admin_headers, teacher, identity_runtime):
    second = login(client, teacher["email"], teacher["password"])
    resp = client.post(f"/users/{teacher['id']}/sessions/revoke", headers=admin_headers)
    assert resp.status_code == 200 and resp.json == {"ended": 2}
    for tokens in (teacher["tokens"], second):
        problem(me(client, tokens["access_token"]), 401, "session_revoked")
        problem(refresh(client, tokens["refresh_token"]), 401, "refresh_token_invalid")
    assert open_sessions(identity_runtime, teacher["id"]) == 0
    # the user can still log in afresh
    assert attempt(client, teacher["email"], teacher["password"]).status_code == 200


def test_changing_the_password_ends_the_other_sessions_but_not_this_one(client, teacher, identity_runtime):
    other = login(client, teacher["email"], teacher["password"])
    resp = client.post(
        "/auth/password",
        headers=teacher["headers"],
        json={"current_password": teacher["password"], "new_password": "a-brand-new-password-1"},
    )
    assert resp.status_code == 204
    problem(me(client, other["access_token"]), 401, "session_revoked")
    problem(refresh(client, other["refresh_token"]), 401, "refresh_token_invalid")
    # the session that changed the password goes on, refresh included
    assert me(client, teacher["tokens"]["access_token"]).status_code == 200
    assert refresh(client, teacher["tokens"]["refresh_token"]).status_code == 200
    assert open_sessions(identity_runtime, teacher["id"]) == 1
    problem(attempt(client, teacher["email"], teacher["password"]), 401, "invalid_credentials")
    assert attempt(client, teacher["email"], "a-brand-new-password-1").status_code == 200


def test_changing_ones_own_password_leaves_an_audit_event(client, teacher, identity_runtime):
    client.post(
        "/auth/password",
        headers=teacher["headers"],
        json={"current_password": teacher["password"], "new_password": "a-brand-new-password-1"},
    )
    with identity_runtime.db.session() as s:
        events = (
            s.execute(
                select(AuditEvent).where(
                    AuditEvent.target_id == teacher["id"], AuditEvent.action == "user.password_changed"
                )
            )
            .scalars()
            .all()
        )
    assert [str(e.actor_id) for e in events] == [teacher["id"]]


def test_a_password_change_with_the_wrong_current_password_changes_nothing(client, teacher, identity_runtime):
    with identity_runtime.db.session() as s:
        before = s.get(User, teacher["id"]).password_hash
    resp = client.post(
        "/auth/password",
        headers=teacher["headers"],
        json={"current_password": "not-my-password", "new_password": "a-brand-new-password-1"},
    )
    problem(resp, 403, "wrong_password")
    with identity_runtime.db.session() as s:
        assert s.get(User, teacher["id"]).password_hash == before
    assert open_sessions(identity_runtime, teacher["id"]) == 1


# ---- signing keys --------------------------------------------------------------------------------


def test_key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(client, admin_headers, teacher):
    old_token = teacher["tokens"]["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    resp = client.post("/keys/rotate", headers=admin_headers)
    assert resp.status_code == 201
    new_kid = resp.json["kid"]
    assert new_kid != old_kid and resp.json["retired_at"] is None

    assert me(client, old_token).status_code == 200
    fresh = login(client, teacher["email"], teacher["password"])["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid
    assert me(client, fresh).status_code == 200

    jwks = client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    listed = {k["kid"]: k for k in jwks.json["keys"]}
    assert set(listed) == {old_kid, new_kid}
    for key in listed.values():
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert "d" not in key and "p" not in key  # public halves only

    keys = client.get("/keys", headers=admin_headers).json
    by_kid = {k["kid"]: k for k in keys}
    assert by_kid[old_kid]["retired_at"] is not None and by_kid[old_kid]["expires_at"] is not None
    assert by_kid[new_kid]["retired_at"] is None


def test_a_token_refreshed_after_rotation_is_signed_by_the_new_key(client, admin_headers, teacher):
    new_kid = client.post("/keys/rotate", headers=admin_headers).json["kid"]
    fresh = refresh(client, teacher["tokens"]["refresh_token"]).json["access_token"]
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid


def test_only_the_platform_admin_lists_or_rotates_keys(client, teacher, world):
    tenant = world.tenant()
    coordinator = world.user(tenant, {"role": "municipality_coordinator", "tenant_id": tenant["id"]})
    for headers in (teacher["headers"], coordinator["headers"]):
        problem(client.get("/keys", headers=headers), 403, "forbidden")
        problem(client.post("/keys/rotate", headers=headers), 403, "forbidden")
    problem(client.get("/keys"), 401, "unauthenticated")


def test_the_admin_account_is_the_platform_admin(client, admin_headers):
    body = client.get("/auth/me", headers=admin_headers).json
    assert body["email"] == ADMIN_EMAIL
    assert [r["role"] for r in body["roles"]] == ["platform_admin"]
