"""Login and refresh rate limits on the real Redis: per address, per e-mail tried, shared by replicas,
counted before the password is hashed; unknown e-mails answered and counted like wrong passwords."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from services.identity.app import create_app
from services.identity.models import User
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
# a long window for counting (no window may end during a test), a short one for the expiry test
LIMITS = dict(
    login_limit_per_address=4,
    login_limit_per_account=2,
    refresh_limit_per_address=3,
    rate_limit_window=3600,
    lockout_threshold=10,
)
HERE, THERE = "198.51.100.7", "198.51.100.8"


def _app(settings: Any) -> Any:
    app = create_app(settings)
    app.testing = True
    return app


@pytest.fixture(scope="module")
def replicas(identity_settings: Any) -> tuple[Any, Any]:
    """Two API replicas with small limits, sharing the database and Redis like real ones."""
    settings = identity_settings.replace(**LIMITS)
    return _app(settings), _app(settings)


@pytest.fixture()
def api(replicas: tuple[Any, Any], client: Any) -> tuple[Any, Any]:  # `client` cleans the database and counters
    return replicas[0].test_client(), replicas[1].test_client()


@pytest.fixture()
def teacher(world: Any) -> dict[str, Any]:
    tenant = world.tenant()
    return world.user(tenant, {"role": "teacher", "tenant_id": tenant["id"], "school_id": world.school(tenant)})


def login(api: Any, email: str, password: str, address: str = HERE, **headers: str) -> Any:
    return api.post(
        "/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def too_many(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 429, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.json
    assert body["code"] == "too_many_attempts" and body["status"] == 429
    assert body["detail"] and body["detail_lv"] and body["title_lv"] == "Pārāk daudz mēģinājumu"
    assert 1 <= int(resp.headers["Retry-After"]) <= LIMITS["rate_limit_window"]
    assert body["retry_after"] == int(resp.headers["Retry-After"])
    return body


def failed_logins(runtime: Any, user_id: str) -> int:
    with runtime.db.session() as s:
        return s.execute(select(User.failed_logins).where(User.id == user_id)).scalar_one()


def test_failed_logins_for_one_e_mail_trip_the_limit_across_replicas_before_any_password_is_checked(
    api, teacher, identity_runtime
):
    one, two = api
    assert login(one, teacher["email"], "wrong-password-1").status_code == 401
    assert login(two, teacher["email"], "wrong-password-2").status_code == 401  # the other replica counts too
    too_many(login(one, teacher["email"], "wrong-password-3"))
    too_many(login(two, teacher["email"], teacher["password"]))  # not even the right password is tried
    # the refused attempts never reached the password check: the account counted two failures only
    assert failed_logins(identity_runtime, teacher["id"]) == 2


def test_another_e_mail_and_another_address_are_not_affected(api, teacher, world):
    one, _ = api
    other = world.user(None, {"role": "platform_admin"})
    for _ in range(2):
        login(one, teacher["email"], "wrong-password-1")
    too_many(login(one, teacher["email"], teacher["password"]))
    assert login(one, other["email"], other["password"]).status_code == 200  # same address, other e-mail
    assert login(one, other["email"], "wrong-password-1").status_code == 401
    # the e-mail's limit holds from any address
    too_many(login(one, teacher["email"], teacher["password"], address=THERE))


def test_password_spraying_from_one_address_is_stopped_and_other_addresses_still_log_in(api, teacher):
    one, _ = api
    for i in range(4):  # four different e-mails, one try each: under every e-mail's limit
        assert login(one, f"guess{i}@example.test", "Parole123!").status_code == 401
    too_many(login(one, "guess9@example.test", "Parole123!"))
    too_many(login(one, teacher["email"], teacher["password"]))
    assert login(one, teacher["email"], teacher["password"], address=THERE).status_code == 200


def test_successful_logins_use_up_nothing(api, teacher):
    one, _ = api
    for _ in range(6):  # more than either limit
        assert login(one, teacher["email"], teacher["password"]).status_code == 200
    assert login(one, teacher["email"], "wrong-password-1").status_code == 401


def test_an_unknown_e_mail_is_answered_and_counted_exactly_like_a_wrong_password(api, teacher):
    one, _ = api
    known = [login(one, teacher["email"], "wrong-password-1", address=HERE) for _ in range(3)]
    unknown = [login(one, "nobody@example.test", "wrong-password-1", address=THERE) for _ in range(3)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401, 401, 429]
    for a, b in zip(known, unknown, strict=True):
        first, second = dict(a.json), dict(b.json)
        for body in (first, second):
            body.pop("request_id")
            body.pop("retry_after", None)
        assert first == second
        assert set(a.headers.keys()) == set(b.headers.keys())
    assert known[0].json["code"] == "invalid_credentials"
    assert known[0].json["detail_lv"] == "Nepareizs e-pasts vai parole."


def test_a_lockout_looks_the_same_for_an_e_mail_no_account_has(client, teacher, admin_headers):
    # the shared app: production limits (50 and 10 a window), lockout after 3 failures
    def attempt(email: str) -> Any:
        return client.post("/auth/login", json={"email": email, "password": "wrong-password-1"})

    known = [attempt(teacher["email"]) for _ in range(4)]
    unknown = [attempt("nobody@example.test") for _ in range(4)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401, 401, 401, 423]
    locked_known, locked_unknown = known[-1], unknown[-1]
    assert abs(int(locked_known.headers["Retry-After"]) - int(locked_unknown.headers["Retry-After"])) <= 1
    for body in (a := dict(locked_known.json), b := dict(locked_unknown.json)):
        body.pop("request_id")
        body.pop("retry_after")
    assert a == b and a["code"] == "account_locked"
    # the real account is unlocked by an admin and logs in again
    assert client.post(f"/users/{teacher['id']}/unlock", headers=admin_headers).status_code == 200
    resp = client.post("/auth/login", json={"email": teacher["email"], "password": teacher["password"]})
    assert resp.status_code == 200


def test_the_window_ends_and_the_e_mail_may_try_again(identity_settings, client, teacher):
    short = _app(identity_settings.replace(**{**LIMITS, "rate_limit_window": 2})).test_client()
    answers = [login(short, teacher["email"], "wrong-password-1").status_code for _ in range(6)]
    assert 429 in answers  # at most 2 failures a window (a slow machine may see a window end meanwhile)
    wait_for(
        lambda: login(short, teacher["email"], "wrong-password-1").status_code == 401,
        timeout=10,
        message="the window to end",
    )
    assert login(short, teacher["email"], teacher["password"]).status_code == 200


def test_behind_the_proxy_the_forwarded_address_is_counted(identity_settings, client):
    proxied = _app(identity_settings.replace(**LIMITS, behind_proxy=True)).test_client()
    for i in range(4):
        login(proxied, f"guess{i}@example.test", "x-password-1", **{"X-Forwarded-For": "203.0.113.9"})
    too_many(login(proxied, "guess9@example.test", "x-password-1", **{"X-Forwarded-For": "203.0.113.9"}))
    # another client behind the same proxy is someone else
    other = login(proxied, "guess9@example.test", "x-password-1", **{"X-Forwarded-For": "203.0.113.10"})
    assert other.status_code == 401


def test_without_the_proxy_a_forged_forwarded_address_changes_nothing(api):
    one, _ = api
    for i in range(4):
        login(one, f"guess{i}@example.test", "x-password-1", **{"X-Forwarded-For": f"203.0.113.{i}"})
    too_many(login(one, "guess9@example.test", "x-password-1", **{"X-Forwarded-For": "203.0.113.99"}))


def test_invalid_refresh_tokens_from_one_address_are_limited_too(api, teacher):
    one, _ = api

    def refresh(token: str, address: str = HERE) -> Any:
        return one.post("/auth/refresh", json={"refresh_token": token}, environ_base={"REMOTE_ADDR": address})

    for i in range(3):
        assert refresh(f"not-a-token-{i}").status_code == 401
    too_many(refresh(teacher["tokens"]["refresh_token"]))
    resp = refresh(teacher["tokens"]["refresh_token"], address=THERE)
    assert resp.status_code == 200 and resp.json["refresh_token"]
