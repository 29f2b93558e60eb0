"""Accounts a person runs themselves: invitation and reset links (once, until they expire, no token in any
message), the same answer for any e-mail, the caller's own sessions and profile."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from services.common.account_links import link_secret
from services.common.db import utcnow
from services.identity.models import MESSAGING, AccountLink
from tests.integration.conftest import ADMIN_EMAIL, bearer, login
from tests.integration.test_identity_auth import me, problem, refresh

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a-brand-new-password-1"


def link_messages(runtime: Any) -> list[dict[str, Any]]:
    with runtime.db.session() as s:
        rows = s.execute(
            select(MESSAGING.outbox.c.payload).where(MESSAGING.outbox.c.task_name == "notifications.account_link")
        ).scalars()
        return list(rows)


def secret_of(settings: Any, message: dict[str, Any]) -> str:
    """What notifications derives from the message: the link's secret, from its id alone."""
    return link_secret(settings.account_link_secret, message["link_id"], message["purpose"])


@pytest.fixture()
def school(world: Any) -> dict[str, Any]:
    tenant = world.tenant()
    return {"tenant": tenant, "school": world.school(tenant)}


def invite(client: Any, headers: dict[str, str], school: dict[str, Any], **extra: Any) -> Any:
    tenant, school_id = school["tenant"]["id"], school["school"]
    return client.post(
        "/users",
        headers=headers,
        json={
            "email": f"invited-{uuid.uuid4().hex[:8]}@example.test",
            "full_name": "Ilze Ielūgtā",
            "tenant_id": tenant,
            "roles": [{"role": "teacher", "tenant_id": tenant, "school_id": school_id}],
            **extra,
        },
    )


def test_an_invitation_mails_a_link_that_sets_the_password_once(client, admin_headers, school, identity_runtime):
    created = invite(client, admin_headers, school, invite=True, language="en")
    assert created.status_code == 201, created.json
    email = created.json["email"]
    [message] = link_messages(identity_runtime)
    assert message["purpose"] == "invitation" and message["email"] == email and message["language"] == "en"
    assert set(message) == {"link_id", "user_id", "purpose", "email", "full_name", "language", "expires_at"}
    settings = identity_runtime.settings
    token = secret_of(settings, message)
    assert token not in json.dumps(message)

    # before: no password works
    problem(
        client.post("/auth/login", json={"email": email, "password": "anything-at-all-1"}), 401, "invalid_credentials"
    )
    seen = client.post("/auth/links/inspect", json={"link_id": message["link_id"], "token": token})
    assert seen.status_code == 200 and seen.json["purpose"] == "invitation" and seen.json["email"] == email

    short = client.post(
        "/auth/links/complete", json={"link_id": message["link_id"], "token": token, "new_password": "short"}
    )
    assert problem(short, 422, "password_too_short")["errors"] == {"new_password": ["too short"]}
    done = client.post(
        "/auth/links/complete", json={"link_id": message["link_id"], "token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204, done.json
    assert login(client, email, NEW_PASSWORD)["access_token"]
    again = client.post(
        "/auth/links/complete", json={"link_id": message["link_id"], "token": token, "new_password": NEW_PASSWORD}
    )
    problem(again, 409, "link_used")


def test_a_wrong_secret_or_an_unknown_link_look_the_same(client, admin_headers, school, identity_runtime):
    invite(client, admin_headers, school, invite=True)
    [message] = link_messages(identity_runtime)
    wrong = problem(
        client.post("/auth/links/inspect", json={"link_id": message["link_id"], "token": "x" * 43}), 404, "link_invalid"
    )
    unknown = problem(
        client.post(
            "/auth/links/inspect",
            json={"link_id": str(uuid.uuid4()), "token": secret_of(identity_runtime.settings, message)},
        ),
        404,
        "link_invalid",
    )
    for body in (wrong, unknown):
        body.pop("request_id")
    assert wrong == unknown


def test_an_expired_link_and_a_replaced_invitation_stop_working(client, admin_headers, school, identity_runtime):
    user = invite(client, admin_headers, school, invite=True).json
    [first] = link_messages(identity_runtime)
    again = client.post(f"/users/{user['id']}/invite", headers=admin_headers)
    assert again.status_code == 201 and again.json["expires_at"]
    second = next(m for m in link_messages(identity_runtime) if m["link_id"] != first["link_id"])
    settings = identity_runtime.settings
    body = {"link_id": first["link_id"], "token": secret_of(settings, first), "new_password": NEW_PASSWORD}
    problem(client.post("/auth/links/complete", json=body), 409, "link_used")
    with identity_runtime.db.session() as s:
        s.execute(
            update(AccountLink)
            .where(AccountLink.id == uuid.UUID(second["link_id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    body = {"link_id": second["link_id"], "token": secret_of(settings, second), "new_password": NEW_PASSWORD}
    problem(client.post("/auth/links/complete", json=body), 410, "link_expired")


def test_a_user_is_made_with_a_password_or_an_invitation_not_neither_nor_both(client, admin_headers, school):
    problem(invite(client, admin_headers, school), 422, "password_or_invitation")
    problem(
        invite(client, admin_headers, school, invite=True, password="user-password-123"), 422, "password_or_invitation"
    )
    assert invite(client, admin_headers, school, password="user-password-123").status_code == 201


def test_a_reset_is_answered_alike_for_any_e_mail_and_ends_every_session(client, world, identity_runtime):
    tenant = world.tenant()
    user = world.user(tenant, {"role": "accountant", "tenant_id": tenant["id"]})
    other = login(client, user["email"], user["password"])
    known = client.post("/auth/password-reset", json={"email": user["email"].upper()})
    unknown = client.post("/auth/password-reset", json={"email": "nobody-here@example.test"})
    assert known.status_code == unknown.status_code == 202
    assert known.json == unknown.json == {"status": "accepted"}
    [message] = link_messages(identity_runtime)
    assert message["purpose"] == "password_reset" and message["user_id"] == user["id"]

    token = secret_of(identity_runtime.settings, message)
    done = client.post(
        "/auth/links/complete", json={"link_id": message["link_id"], "token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204
    for tokens in (user["tokens"], other):
        problem(me(client, tokens["access_token"]), 401, "session_revoked")
        problem(refresh(client, tokens["refresh_token"]), 401, "refresh_token_invalid")
    problem(
        client.post("/auth/login", json={"email": user["email"], "password": user["password"]}),
        401,
        "invalid_credentials",
    )
    assert login(client, user["email"], NEW_PASSWORD)


def test_reset_requests_are_limited_per_e_mail_whether_it_exists_or_not(client, identity_runtime):
    limit = identity_runtime.settings.reset_limit_per_account
    for _ in range(limit):
        assert client.post("/auth/password-reset", json={"email": "ghost@example.test"}).status_code == 202
    refused = problem(
        client.post("/auth/password-reset", json={"email": "ghost@example.test"}), 429, "too_many_attempts"
    )
    assert int(refused["retry_after"]) > 0


def test_my_sessions_list_end_one_and_end_the_others(client, world):
    tenant = world.tenant()
    user = world.user(tenant, {"role": "accountant", "tenant_id": tenant["id"]})
    laptop = client.post(
        "/auth/login", json={"email": user["email"], "password": user["password"], "device": "Firefox on Linux"}
    ).json
    phone = login(client, user["email"], user["password"])
    listed = client.get("/auth/sessions", headers=bearer(laptop["access_token"])).json
    assert len(listed) == 3
    current = [s for s in listed if s["current"]]
    assert len(current) == 1 and current[0]["device"] == "Firefox on Linux"

    phone_sid = next(
        s["id"] for s in client.get("/auth/sessions", headers=bearer(phone["access_token"])).json if s["current"]
    )
    assert client.delete(f"/auth/sessions/{phone_sid}", headers=bearer(laptop["access_token"])).status_code == 204
    problem(me(client, phone["access_token"]), 401, "session_revoked")

    # someone else's session is missing, as one that never was
    stranger = world.user(tenant, {"role": "accountant", "tenant_id": tenant["id"]})
    theirs = next(s["id"] for s in client.get("/auth/sessions", headers=stranger["headers"]).json if s["current"])
    problem(client.delete(f"/auth/sessions/{theirs}", headers=bearer(laptop["access_token"])), 404, "not_found")
    problem(client.delete(f"/auth/sessions/{uuid.uuid4()}", headers=bearer(laptop["access_token"])), 404, "not_found")

    ended = client.post("/auth/sessions/end-others", headers=bearer(laptop["access_token"]))
    assert ended.json == {"ended": 1}  # the first login's session
    problem(me(client, user["tokens"]["access_token"]), 401, "session_revoked")
    assert [s["current"] for s in client.get("/auth/sessions", headers=bearer(laptop["access_token"])).json] == [True]


def test_a_person_changes_their_own_name_and_language(client, world):
    tenant = world.tenant()
    user = world.user(tenant, {"role": "accountant", "tenant_id": tenant["id"]})
    changed = client.patch("/auth/me", headers=user["headers"], json={"language": "en", "full_name": "Anna Liepa"})
    assert changed.status_code == 200 and changed.json["language"] == "en" and changed.json["full_name"] == "Anna Liepa"
    assert me(client, user["headers"]["Authorization"].split()[1]).json["language"] == "en"
    problem(client.patch("/auth/me", headers=user["headers"], json={"email": "x@example.test"}), 422, "invalid_input")


def test_the_admin_too_may_reset_by_e_mail(client, identity_runtime):
    assert client.post("/auth/password-reset", json={"email": ADMIN_EMAIL}).status_code == 202
    assert [m["purpose"] for m in link_messages(identity_runtime)] == ["password_reset"]
