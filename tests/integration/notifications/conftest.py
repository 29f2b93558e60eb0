"""Notifications fixtures: its own database, a real notifications worker, the bundled SMTP sink, a local
webhook receiver, and people made in identity whose messages reach notifications through the broker."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy import select

from devstack.smtp_sink import read_messages
from services.common import migrate
from services.common.readmodel import newer_row
from services.notifications.models import Base, Delivery, Recipient, SchoolRM, TenantRM
from services.notifications.settings import NotificationsSettings
from tests.conftest import log_path, truncate_all
from tests.integration.conftest import ADMIN_EMAIL, SYSTEM, bearer, login
from tests.support.tls import Cert
from tests.support.workers import Worker, wait_for

LINKS = "https://pumpurs.test"


@pytest.fixture(scope="session")
def notifications_settings(make_database, redis_url, stack_env, identity_settings) -> NotificationsSettings:  # type: ignore[no-untyped-def]
    url = make_database("notifications")
    migrate.upgrade("notifications", url)
    return NotificationsSettings(
        service="notifications",
        database_url=url,
        broker_url=redis_url,
        result_backend=redis_url,
        jwt_issuer=identity_settings.jwt_issuer,
        jwt_audience="pumpurs",
        jwks_url=identity_settings.jwks_url,
        log_format="console",
        log_level="WARNING",
        smtp_host=stack_env["SMTP_HOST"],
        smtp_port=int(stack_env["SMTP_PORT"]),
        smtp_timeout=3.0,
        link_base_url=LINKS,
        delivery_max_retries=6,
        task_retry_backoff=0.2,
        webhook_timeout=2.0,
        # the tests' own receiver listens on loopback; nothing else private is allowed
        webhook_allowed_networks=("127.0.0.0/8",),
        webhook_key=Fernet.generate_key().decode(),
        account_link_secret=identity_settings.account_link_secret,
    )


def notifications_env(s: NotificationsSettings) -> dict[str, str]:
    return {
        "NOTIFICATIONS_DATABASE_URL": s.database_url,
        "REDIS_URL": s.broker_url,
        "JWT_ISSUER": s.jwt_issuer,
        "SMTP_HOST": s.smtp_host,
        "SMTP_PORT": str(s.smtp_port),
        "SMTP_TIMEOUT": str(s.smtp_timeout),
        "NOTIFICATIONS_LINK_BASE_URL": s.link_base_url,
        "NOTIFICATIONS_DELIVERY_MAX_RETRIES": str(s.delivery_max_retries),
        "NOTIFICATIONS_WEBHOOK_TIMEOUT": str(s.webhook_timeout),
        "NOTIFICATIONS_WEBHOOK_ALLOWED_NETWORKS": ",".join(s.webhook_allowed_networks),
        "NOTIFICATIONS_WEBHOOK_KEY": s.webhook_key,
        "ACCOUNT_LINK_SECRET": s.account_link_secret,
        "TASK_RETRY_BACKOFF": str(s.task_retry_backoff),
        "LOG_LEVEL": "INFO",
    }


def purge_queue(settings: NotificationsSettings) -> None:
    """Drop what other services' tests queued for notifications while no notifications worker ran."""
    redis.Redis.from_url(settings.broker_url).delete("notifications", "notifications.long")


# package scope: the worker stops after these tests, so later tests that look into the notifications
# queue (what other services sent) do not race with it
@pytest.fixture(scope="package")
def notifications_worker(notifications_settings: NotificationsSettings) -> Iterator[Worker]:
    purge_queue(notifications_settings)
    w = Worker(
        "services.notifications.worker",
        "notifications,notifications.long",  # both lanes: deliveries, and reminders and digests
        notifications_env(notifications_settings),
        log_path("notifications-worker"),
        concurrency=4,
    )
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="session")
def notifications_app(notifications_settings: NotificationsSettings, identity_app: Any) -> Any:
    from services.identity.app import LocalKeys
    from services.notifications.app import create_app

    app = create_app(notifications_settings, key_source=LocalKeys(identity_app.extensions["runtime"]))
    app.testing = True
    return app


@pytest.fixture()
def notif_runtime(notifications_app: Any) -> Any:
    return notifications_app.extensions["runtime"]


@pytest.fixture()
def notifs(
    notifications_app: Any, notifications_settings: NotificationsSettings, notifications_worker: Worker, request
) -> Any:  # type: ignore[no-untyped-def]
    """A notifications test client on a clean database, where identity's own platform admin tells no one.

    The `client` fixture makes that admin anew for each test; its message may reach notifications before
    or after the truncation (a worker may hold it already). Holding the admin here, inactive, at a
    revision no message reaches makes each copy change nothing, whenever it comes: only a test's own
    people are told.
    """
    purge_queue(notifications_settings)
    truncate_all(notifications_settings.database_url, [t.name for t in Base.metadata.sorted_tables])
    request.getfixturevalue("client")
    _silence_identity_admin(request.getfixturevalue("identity_runtime"), notifications_app.extensions["runtime"])
    return notifications_app.test_client()


def _silence_identity_admin(identity: Any, runtime: Any) -> None:
    from services.identity.models import User

    with identity.db.session() as s:
        admin_id = s.execute(select(User.id).where(User.email == ADMIN_EMAIL)).scalar_one()
    with runtime.db.session() as s:
        # the read model's own rule and lock: a copy the worker is applying right now waits, or is undone
        row = newer_row(s, Recipient, admin_id, 2**31 - 1)
        assert row is not None
        row.tenant_id, row.email, row.full_name, row.language = None, ADMIN_EMAIL, "IKVD administrators", "lv"
        row.active, row.roles = False, []


@pytest.fixture(scope="session")
def sink_dir(stack_env: dict[str, str]) -> Path:
    return Path(stack_env["SMTP_SINK_DIR"])


def mails_to(sink: Path, *addresses: str) -> list[EmailMessage]:
    """Every message the sink holds for any of these addresses (envelope recipients)."""
    wanted = {a.lower() for a in addresses}
    return [
        m for m in read_messages(sink) if wanted & {a.strip().lower() for a in str(m["X-Envelope-To"] or "").split(",")}
    ]


class Cast:
    """People and places made in identity, waited for until notifications' read model holds them."""

    def __init__(self, world: Any, runtime: Any) -> None:
        self.world, self.runtime = world, runtime
        self.people: dict[str, dict[str, Any]] = {}

    def tenant(self, kind: str = "municipality", region: str = "kurzeme", schools: int = 1) -> dict[str, Any]:
        tenant = self.world.tenant(kind=kind, region=region)
        if kind == "municipality":
            tenant["schools"] = [self.world.school(tenant) for _ in range(schools)]
        self._wait(SchoolRM, tenant["schools"][-1])
        self._wait(TenantRM, tenant["id"])
        tenant["school"] = tenant["schools"][0]
        return tenant

    def person(
        self, name: str, tenant: dict[str, Any] | None, *grants: dict[str, Any], language: str = "lv"
    ) -> dict[str, Any]:
        """A user with these grants, known here by `name`; logged in only when a test needs a token."""
        from services.identity import admin
        from tests.integration.conftest import _grant

        email = f"{name.replace('_', '-')}-{uuid.uuid4().hex[:8]}@example.test"
        with self.world.runtime.db.session() as s:
            u = admin.create_user(
                s,
                self.world.runtime.outbox,
                self.world.settings,
                SYSTEM,
                {
                    "email": email,
                    "full_name": name.replace("_", " ").title(),
                    "password": "user-password-123",
                    "language": language,
                    "tenant_id": uuid.UUID(tenant["id"]) if tenant else None,
                    "roles": [_grant(g) for g in grants],
                },
            )
            user = {"id": str(u.id), "email": email, "name": name}
        self._wait(Recipient, user["id"])
        self.people[name] = user
        return user

    def headers(self, name: str) -> dict[str, str]:
        person = self.people[name]
        if "headers" not in person:
            person["headers"] = bearer(login(self.world.client, person["email"], "user-password-123")["access_token"])
        return person["headers"]  # type: ignore[no-any-return]

    def email(self, name: str) -> str:
        return self.people[name]["email"]  # type: ignore[no-any-return]

    def _wait(self, model: Any, key: str) -> None:
        def present() -> bool:
            with self.runtime.db.session() as s:
                return s.get(model, uuid.UUID(key)) is not None

        wait_for(present, timeout=60, message=f"{model.__name__} {key} in notifications")


def staff_grants(tenant: dict[str, Any], school: str | None = None) -> dict[str, dict[str, Any]]:
    """One grant per role of a municipality and one of its schools."""
    t, s = tenant["id"], school or tenant["school"]
    return {
        "coordinator": {"role": "school_coordinator", "tenant_id": t, "school_id": s},
        "director": {"role": "director", "tenant_id": t, "school_id": s},
        "preparer": {"role": "plan_preparer", "tenant_id": t, "school_id": s},
        "teacher": {"role": "teacher", "tenant_id": t, "school_id": s},
        "municipality": {"role": "municipality_coordinator", "tenant_id": t},
        "accountant": {"role": "accountant", "tenant_id": t},
    }


@pytest.fixture()
def cast(world: Any, notif_runtime: Any, notifs: Any) -> Cast:
    return Cast(world, notif_runtime)


def send_as(runtime: Any, task: str, payload: dict[str, Any], message_id: str | None = None) -> str:
    """Send a message to notifications through the broker, as another service's outbox would."""
    message_id = message_id or str(uuid.uuid4())
    spec = runtime.contract.get(task)
    runtime.celery.send_task(
        task,
        queue=spec.queue,
        task_id=message_id,
        kwargs={
            "message": {
                "message_id": message_id,
                "name": task,
                "version": spec.version,
                "correlation_id": None,
                "payload": spec.normalise(payload),
            }
        },
    )
    return message_id


def deliveries(runtime: Any, **where: Any) -> list[Delivery]:
    with runtime.db.session() as s:
        query = select(Delivery).order_by(Delivery.created_at)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        return list(s.execute(query).scalars())


def settled(runtime: Any) -> bool:
    """No delivery is waiting to be tried or retried."""
    return not [d for d in deliveries(runtime) if d.status in ("pending", "retrying")]


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records each request and can answer 500 for a while; with a
    certificate it speaks HTTPS and records the name each client asked for (SNI)."""

    def __init__(self, tls: Cert | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.server_names: list[str | None] = []
        self.fail_next = 0
        self.always_fail = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    failing = receiver.always_fail or receiver.fail_next > 0
                    if receiver.fail_next > 0:
                        receiver.fail_next -= 1
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "answered": 500 if failing else 204,
                        }
                    )
                self.send_response(500 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        if tls is not None:
            context = tls.server_context()
            context.sni_callback = lambda conn, name, ctx: receiver.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["answered"] == 204]

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.accepted()]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()
