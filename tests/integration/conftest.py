"""Identity fixtures on real PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from services.common import migrate
from services.common.auth import PLATFORM_ADMIN, Grant, Principal
from services.identity import admin
from services.identity.models import Base
from services.identity.settings import IdentitySettings
from tests.conftest import truncate_all

ISSUER = "http://identity.test"
ADMIN_EMAIL = "admin@ikvd.test"
ADMIN_PASSWORD = "admin-password-123"


@pytest.fixture(scope="session")
def identity_settings(make_database, redis_url) -> IdentitySettings:  # type: ignore[no-untyped-def]
    url = make_database("identity")
    migrate.upgrade("identity", url)
    return IdentitySettings(
        service="identity",
        database_url=url,
        broker_url=redis_url,
        result_backend=redis_url,
        jwt_issuer=ISSUER,
        jwt_audience="pumpurs",
        jwks_url=f"{ISSUER}/.well-known/jwks.json",
        log_format="console",
        log_level="WARNING",
        lockout_threshold=3,
        lockout_seconds=60,
        access_token_ttl=300,
        # cheap hashes for the hundreds of test users; the production cost is the settings' default
        password_time_cost=1,
        password_memory_kib=1024,
        password_parallelism=1,
        account_link_secret="identity-and-notifications-share-this-secret",
    )


@pytest.fixture(scope="session")
def identity_app(identity_settings: IdentitySettings) -> Any:
    from services.identity.app import create_app

    app = create_app(identity_settings)
    app.testing = True
    return app


@pytest.fixture()
def identity_runtime(identity_app: Any) -> Any:
    return identity_app.extensions["runtime"]


@pytest.fixture()
def client(identity_app: Any, identity_settings: IdentitySettings) -> Iterator[Any]:
    """A test client on a clean identity database holding only the platform admin."""
    truncate_all(identity_settings.database_url, [t.name for t in Base.metadata.sorted_tables])
    runtime = identity_app.extensions["runtime"]
    forget_login_failures(runtime.redis)
    with runtime.db.session() as session:
        admin.bootstrap_admin(session, runtime.outbox, ADMIN_EMAIL, "IKVD administrators", ADMIN_PASSWORD)
    yield identity_app.test_client()


def forget_login_failures(client: Any) -> None:
    """Clear the shared failure counters, so one test's failed logins do not limit the next test."""
    from services.identity.ratelimit import PREFIX

    keys = list(client.scan_iter(match=PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)


def login(client: Any, email: str, password: str) -> dict[str, Any]:
    resp = client.post("/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.json
    return resp.json


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def admin_headers(client: Any) -> dict[str, str]:
    return bearer(login(client, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])


SYSTEM = Principal(user_id=str(uuid.UUID(int=0)), tenant_id=None, region=None, grants=(Grant(PLATFORM_ADMIN),))


class World:
    """Tenants, schools and users made directly through the domain, for tests to act on."""

    def __init__(self, client: Any, runtime: Any, settings: IdentitySettings) -> None:
        self.client, self.runtime, self.settings = client, runtime, settings

    def tenant(self, kind: str = "municipality", region: str = "kurzeme", name: str | None = None) -> dict[str, Any]:
        with self.runtime.db.session() as s:
            t = admin.create_tenant(
                s,
                self.runtime.outbox,
                SYSTEM,
                {
                    "kind": kind,
                    "name": name or f"Tenant {uuid.uuid4().hex[:6]}",
                    "registration_number": str(uuid.uuid4().int)[:11],
                    "region": region,
                    "student_count": 100,
                },
            )
            return {
                "id": str(t.id),
                "region": t.region,
                "kind": t.kind,
                "registration_number": t.registration_number,
                "schools": [str(x.id) for x in t.schools],
            }

    def school(self, tenant: dict[str, Any]) -> str:
        with self.runtime.db.session() as s:
            sc = admin.create_school(
                s,
                self.runtime.outbox,
                SYSTEM,
                uuid.UUID(tenant["id"]),
                {
                    "name": f"School {uuid.uuid4().hex[:6]}",
                    "registration_number": str(uuid.uuid4().int)[:11],
                },
            )
            return str(sc.id)

    def user(
        self,
        tenant: dict[str, Any] | None,
        *grants: dict[str, Any],
        password: str = "user-password-123",
        full_name: str = "Test User",
    ) -> dict[str, Any]:
        email = f"u{uuid.uuid4().hex[:10]}@example.test"
        with self.runtime.db.session() as s:
            u = admin.create_user(
                s,
                self.runtime.outbox,
                self.settings,
                SYSTEM,
                {
                    "email": email,
                    "full_name": full_name,
                    "password": password,
                    "tenant_id": uuid.UUID(tenant["id"]) if tenant else None,
                    "roles": [_grant(g) for g in grants],
                },
            )
            uid = str(u.id)
        token = login(self.client, email, password)
        return {
            "id": uid,
            "email": email,
            "password": password,
            "headers": bearer(token["access_token"]),
            "tokens": token,
        }


def _grant(g: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"tenant_id": None, "school_id": None, "region": None, **g}
    for key in ("tenant_id", "school_id"):
        if out[key] is not None:
            out[key] = uuid.UUID(str(out[key]))
    return out


@pytest.fixture()
def world(client: Any, identity_runtime: Any, identity_settings: IdentitySettings) -> World:
    return World(client, identity_runtime, identity_settings)
