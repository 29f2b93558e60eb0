"""Bad requests and bad tokens: each refused with the right problem+json code, and nothing written."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from services.identity import keys
from services.identity.models import MESSAGING, AuditEvent, RefreshSession, RoleGrant, School, Tenant, User
from tests.integration.conftest import bearer

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
DROP = object()


def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.json
    assert body["code"] == code and body["status"] == status, body
    assert body["type"].endswith("/" + code) and body["title"] and body["instance"]
    return body


def snapshot(runtime: Any) -> dict[str, int]:
    with runtime.db.session() as s:
        counts = {
            t.__tablename__: s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Tenant, School, User, RoleGrant, AuditEvent, RefreshSession)
        }
        counts["outbox"] = s.execute(select(func.count()).select_from(MESSAGING.outbox)).scalar_one()
        counts["hashes"] = hash(tuple(s.execute(select(User.password_hash).order_by(User.id)).scalars()))
    return counts


@pytest.fixture()
def unchanged(identity_runtime: Any, admin_headers: dict[str, str]) -> Any:
    """Call `unchanged.check()` after refused writes: nothing in the database moved."""

    class Guard:
        def __init__(self) -> None:
            self.before: dict[str, int] | None = None

        def start(self) -> None:
            self.before = snapshot(identity_runtime)

        def check(self) -> None:
            assert snapshot(identity_runtime) == self.before, "a refused request changed the database"

    return Guard()


def tenant_body() -> dict[str, Any]:
    return {
        "kind": "municipality",
        "name": "Ventspils novads",
        "registration_number": str(uuid.uuid4().int)[:11],
        "region": "kurzeme",
    }


def user_body(**overrides: Any) -> dict[str, Any]:
    return {
        "email": f"b{uuid.uuid4().hex[:10]}@example.test",
        "full_name": "Baiba Zariņa",
        "password": "a-good-password-1",
        **overrides,
    }


# ---- malformed and invalid bodies ------------------------------------------------------------------


def test_a_body_that_is_not_json_is_400_malformed_json(client, admin_headers, unchanged):
    unchanged.start()
    for path in ("/auth/login", "/users", "/tenants"):
        resp = client.post(path, headers=admin_headers, data='{"email": "a@b.lv", ', content_type="application/json")
        problem(resp, 400, "malformed_json")
    unchanged.check()


def test_an_unknown_field_is_422_naming_that_field(client, admin_headers, unchanged):
    unchanged.start()
    body = problem(
        client.post("/users", headers=admin_headers, json=user_body(is_superuser=True)), 422, "invalid_input"
    )
    assert list(body["errors"]) == ["is_superuser"]
    body = problem(
        client.post("/auth/login", json={"email": "a@b.lv", "password": "x", "remember": True}), 422, "invalid_input"
    )
    assert list(body["errors"]) == ["remember"]
    unchanged.check()


def test_several_invalid_fields_are_each_named(client, admin_headers, unchanged):
    unchanged.start()
    resp = client.post(
        "/users",
        headers=admin_headers,
        json={
            "email": "not-an-email",
            "full_name": "X",
            "language": "de",
            "tenant_id": "nope",
            "password": "a-good-password-1",
            "roles": [{"role": "king"}],
        },
    )
    errors = problem(resp, 422, "invalid_input")["errors"]
    assert {"email", "full_name", "language", "tenant_id", "roles"} <= set(errors)
    missing = problem(client.post("/tenants", headers=admin_headers, json={}), 422, "invalid_input")["errors"]
    assert set(missing) == {"kind", "name", "registration_number", "region"}
    args = problem(client.get("/users?page=0&page_size=1000&role=king", headers=admin_headers), 422, "invalid_input")[
        "errors"
    ]
    assert set(args) == {"page", "page_size", "role"}
    unchanged.check()


def test_a_json_value_that_is_not_an_object_is_422(client, admin_headers, unchanged):
    unchanged.start()
    problem(client.post("/users", headers=admin_headers, json=["a", "b"]), 422, "invalid_input")
    unchanged.check()


# ---- tokens ----------------------------------------------------------------------------------------


@pytest.fixture()
def forge(identity_runtime, identity_settings, admin_headers, client) -> Any:
    """Sign access tokens by hand: the admin's identity, the current key, claims overridable."""
    admin_id = client.get("/auth/me", headers=admin_headers).json["id"]
    with identity_runtime.db.session() as s:
        current = keys.current_key(s)

    def make(*, key: Any = None, kid: str | None = None, algorithm: str = "RS256", **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": identity_settings.jwt_issuer,
            "aud": identity_settings.jwt_audience,
            "sub": admin_id,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "sid": str(uuid.uuid4()),
            "typ": "access",
            "tenant_id": None,
            "region": None,
            "roles": [{"role": "platform_admin"}],
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not DROP}
        return jwt.encode(claims, key or current.private_pem, algorithm=algorithm, headers={"kid": kid or current.kid})

    make.kid = current.kid
    make.public_pem = jwt.PyJWK(current.public_jwk, algorithm="RS256").key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return make


def refused_with_token(client: Any, token: str, code: str) -> None:
    """A write with this token is 401 `code` and asks for a Bearer token."""
    resp = client.post("/tenants", headers=bearer(token), json=tenant_body())
    problem(resp, 401, code)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_hand_signed_token_with_the_current_key_is_accepted(client, forge):
    """The baseline for the tests below: each changes one thing of this token."""
    assert client.post("/tenants", headers=bearer(forge()), json=tenant_body()).status_code == 201


def test_no_token_is_401_unauthenticated(client, unchanged):
    unchanged.start()
    for method, path in (
        ("post", "/tenants"),
        ("post", "/users"),
        ("get", "/users"),
        ("get", "/auth/me"),
        ("post", "/keys/rotate"),
    ):
        body = tenant_body() if path == "/tenants" else user_body() if path == "/users" else None
        resp = getattr(client, method)(path, json=body) if body else getattr(client, method)(path)
        problem(resp, 401, "unauthenticated")
    unchanged.check()


def test_a_garbage_or_non_bearer_token_is_401_invalid_token(client, unchanged):
    unchanged.start()
    refused_with_token(client, "not-a-jwt-at-all", "invalid_token")
    refused_with_token(client, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "invalid_token")
    resp = client.post("/tenants", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}, json=tenant_body())
    problem(resp, 401, "invalid_token")
    unchanged.check()


def test_an_expired_token_is_401_token_expired(client, forge, unchanged):
    unchanged.start()
    now = int(time.time())
    refused_with_token(client, forge(iat=now - 3600, exp=now - 600), "token_expired")
    unchanged.check()


def test_a_token_signed_by_another_key_with_the_same_kid_is_401(client, forge, unchanged):
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    unchanged.start()
    refused_with_token(client, forge(key=impostor), "invalid_token")
    refused_with_token(client, forge(key=impostor, kid=uuid.uuid4().hex), "invalid_token")
    unchanged.check()


def test_a_token_of_another_issuer_or_audience_is_401(client, forge, unchanged):
    unchanged.start()
    refused_with_token(client, forge(iss="http://evil.test"), "invalid_token")
    refused_with_token(client, forge(aud="someone-else"), "invalid_token")
    refused_with_token(client, forge(iss=DROP), "invalid_token")
    unchanged.check()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_hs256_and_unsigned_tokens_are_401(client, forge, unchanged):
    claims = jwt.decode(forge(), options={"verify_signature": False})
    unchanged.start()
    refused_with_token(
        client, jwt.encode(claims, "s" * 64, algorithm="HS256", headers={"kid": forge.kid}), "invalid_token"
    )
    # the classic confusion: HMAC keyed with the public RSA key that anyone can read from the JWKS
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': forge.kid}).encode())}.{payload}"
    mac = hmac.new(forge.public_pem, signing_input.encode(), hashlib.sha256).digest()
    refused_with_token(client, f"{signing_input}.{_b64(mac)}", "invalid_token")
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'kid': forge.kid}).encode())}.{payload}."
    refused_with_token(client, unsigned, "invalid_token")
    unchanged.check()


def test_a_token_that_is_not_an_access_token_is_401(client, forge, unchanged):
    unchanged.start()
    refused_with_token(client, forge(typ=DROP), "invalid_token")
    refused_with_token(client, forge(typ="refresh"), "invalid_token")
    refused_with_token(client, forge(sub=DROP), "invalid_token")
    unchanged.check()


# ---- refused by role, scope or state ---------------------------------------------------------------


@pytest.fixture()
def town(world: Any) -> dict[str, Any]:
    tenant = world.tenant(region="kurzeme")
    tenant["school"] = world.school(tenant)
    tenant["coordinator"] = world.user(tenant, {"role": "municipality_coordinator", "tenant_id": tenant["id"]})
    tenant["teacher"] = world.user(
        tenant, {"role": "teacher", "tenant_id": tenant["id"], "school_id": tenant["school"]}
    )
    return tenant


def test_a_role_that_does_not_allow_the_action_is_403_forbidden(client, town, unchanged):
    teacher = town["teacher"]["headers"]
    unchanged.start()
    problem(client.post("/tenants", headers=teacher, json=tenant_body()), 403, "forbidden")
    problem(client.post("/users", headers=teacher, json=user_body(tenant_id=town["id"])), 403, "forbidden")
    problem(client.patch(f"/tenants/{town['id']}", headers=teacher, json={"name": "Cits"}), 403, "forbidden")
    problem(
        client.post(
            f"/tenants/{town['id']}/schools",
            headers=town["coordinator"]["headers"],
            json={"name": "Jaunā skola", "registration_number": "40900012345"},
        ),
        403,
        "forbidden",
    )
    problem(client.get("/users", headers=teacher), 403, "forbidden")
    unchanged.check()


def test_another_tenants_records_are_404_not_found(client, world, town, unchanged):
    elsewhere = world.tenant(region="latgale")
    stranger = world.user(elsewhere)
    headers = town["coordinator"]["headers"]
    unchanged.start()
    problem(client.get(f"/tenants/{elsewhere['id']}", headers=headers), 404, "not_found")
    problem(client.patch(f"/users/{stranger['id']}", headers=headers, json={"active": False}), 404, "not_found")
    problem(client.post(f"/users/{stranger['id']}/roles", headers=headers, json={"role": "teacher"}), 404, "not_found")
    problem(client.post("/users", headers=headers, json=user_body(tenant_id=elsewhere["id"])), 404, "not_found")
    problem(client.get(f"/users/{uuid.uuid4()}", headers=headers), 404, "not_found")
    unchanged.check()
    assert client.get("/auth/me", headers=stranger["headers"]).status_code == 200


def test_a_duplicate_e_mail_is_409_user_exists_whatever_its_case(client, admin_headers, town, unchanged):
    taken = town["teacher"]["email"]
    unchanged.start()
    for email in (taken, taken.upper(), taken.title()):
        body = problem(
            client.post("/users", headers=admin_headers, json=user_body(email=email, tenant_id=town["id"])),
            409,
            "user_exists",
        )
        assert body["field"] == "email"
    unchanged.check()


def test_a_duplicate_registration_number_is_409(client, admin_headers, unchanged):
    first = tenant_body()
    assert client.post("/tenants", headers=admin_headers, json=first).status_code == 201
    unchanged.start()
    problem(client.post("/tenants", headers=admin_headers, json={**first, "name": "Cits novads"}), 409, "tenant_exists")
    unchanged.check()


def test_a_too_short_password_is_422_password_too_short(client, admin_headers, town, unchanged):
    teacher = town["teacher"]
    unchanged.start()
    body = problem(
        client.post("/users", headers=admin_headers, json=user_body(password="short-1")), 422, "password_too_short"
    )
    assert "password" in body["errors"]
    problem(
        client.patch(f"/users/{teacher['id']}", headers=admin_headers, json={"password": "short-1"}),
        422,
        "password_too_short",
    )
    problem(
        client.post(
            "/auth/password",
            headers=teacher["headers"],
            json={"current_password": teacher["password"], "new_password": "short-1"},
        ),
        422,
        "password_too_short",
    )
    unchanged.check()
    assert (
        client.post("/auth/login", json={"email": teacher["email"], "password": teacher["password"]}).status_code == 200
    )


def test_unknown_routes_and_methods_answer_problem_json(client, admin_headers):
    problem(client.get("/no-such-thing", headers=admin_headers), 404, "not_found")
    problem(client.delete("/tenants", headers=admin_headers), 405, "method_not_allowed")
