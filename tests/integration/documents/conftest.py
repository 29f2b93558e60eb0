"""Documents fixtures: its own database, a bucket of its own on the bundled S3 server, identity's real tokens."""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from services.common import migrate
from services.common.db import utcnow
from services.documents import sweep
from services.documents.models import ABANDONED, ACTIVE, MESSAGING, UPLOADING, Base, Document, DocumentVersion
from services.documents.settings import DocumentsSettings
from tests.conftest import log_path, truncate_all
from tests.support.workers import Worker, wait_for

PDF = "application/pdf"


@pytest.fixture(scope="session")
def documents_settings(make_database, redis_url, stack_env, identity_settings) -> DocumentsSettings:  # type: ignore[no-untyped-def]
    url = make_database("documents")
    migrate.upgrade("documents", url)
    return DocumentsSettings(
        service="documents",
        database_url=url,
        broker_url=redis_url,
        result_backend=redis_url,
        jwt_issuer=identity_settings.jwt_issuer,
        jwt_audience="pumpurs",
        jwks_url=identity_settings.jwks_url,
        log_format="console",
        log_level="WARNING",
        s3_endpoint_url=stack_env["S3_ENDPOINT_URL"],
        s3_access_key=stack_env["S3_ACCESS_KEY"],
        s3_secret_key=stack_env["S3_SECRET_KEY"],
        s3_public_endpoint_url=stack_env["S3_ENDPOINT_URL"],
        bucket=f"documents-test-{uuid.uuid4().hex[:8]}",
        s3_connect_timeout=1.0,
        s3_read_timeout=5.0,
        max_upload_bytes=16 * 1024 * 1024,
        # statements may go at once, directors' orders are kept a day (object lock holds them too)
        retention_days={"statement": 0, "directors_order": 1},
    )


def make_documents_app(settings: DocumentsSettings, identity_app: Any) -> Any:
    """The documents app verifying identity's real tokens with identity's own keys."""
    from services.documents.app import create_app
    from services.identity.app import LocalKeys

    app = create_app(settings, key_source=LocalKeys(identity_app.extensions["runtime"]))
    app.testing = True
    return app


@pytest.fixture(scope="session")
def documents_app(documents_settings: DocumentsSettings, identity_app: Any) -> Any:
    return make_documents_app(documents_settings, identity_app)


@pytest.fixture()
def docs_runtime(documents_app: Any) -> Any:
    return documents_app.extensions["runtime"]


@pytest.fixture()
def documents(documents_app: Any, documents_settings: DocumentsSettings, client: Any) -> Iterator[Any]:
    """A test client on a clean documents database (identity's `client` cleans identity's)."""
    truncate_all(documents_settings.database_url, [t.name for t in Base.metadata.sorted_tables])
    redis.Redis.from_url(documents_settings.broker_url).delete("finance", "documents")
    yield documents_app.test_client()


class SchoolWorld(dict):  # type: ignore[type-arg]
    """Tenants and schools made at once; users made (and logged in) when a test first names them."""

    def __init__(self, world: Any) -> None:
        a = world.tenant(region="kurzeme")
        s1, s2 = world.school(a), world.school(a)
        b = world.tenant(region="latgale")
        b_school = world.school(b)
        super().__init__(tenant=a, school=s1, other_school=s2, other_tenant=b, other_tenant_school=b_school)
        self.world = world
        self.grants: dict[str, tuple[Any, dict[str, Any]]] = {
            "coordinator": (a, {"role": "school_coordinator", "tenant_id": a["id"], "school_id": s1}),
            "director": (a, {"role": "director", "tenant_id": a["id"], "school_id": s1}),
            "accountant": (a, {"role": "accountant", "tenant_id": a["id"]}),
            "other_school_coordinator": (a, {"role": "school_coordinator", "tenant_id": a["id"], "school_id": s2}),
            "municipality": (a, {"role": "municipality_coordinator", "tenant_id": a["id"]}),
            "teacher": (a, {"role": "teacher", "tenant_id": a["id"], "school_id": s1}),
            "preparer": (a, {"role": "plan_preparer", "tenant_id": a["id"], "school_id": s1}),
            "auditor": (a, {"role": "auditor", "tenant_id": a["id"]}),
            "stranger": (b, {"role": "school_coordinator", "tenant_id": b["id"], "school_id": b_school}),
            "stranger_accountant": (b, {"role": "accountant", "tenant_id": b["id"]}),
            "regional": (None, {"role": "regional_coordinator", "region": "kurzeme"}),
            "other_region": (None, {"role": "regional_coordinator", "region": "latgale"}),
            "admin": (None, {"role": "platform_admin"}),
        }

    def __missing__(self, key: str) -> Any:
        tenant, grant = self.grants[key]
        self[key] = user = self.world.user(tenant, grant)
        return user


@pytest.fixture()
def school_world(world: Any) -> SchoolWorld:
    """Two municipalities in two regions; the first with two schools; users in every role, made on demand."""
    return SchoolWorld(world)


def expense_form(**overrides: Any) -> dict[str, Any]:
    form = {
        "kind": "expense_receipt",
        "student_id": str(uuid.uuid4()),
        "plan_id": str(uuid.uuid4()),
        "category": "meals",
        "month": "2026-10",
        "amount": "12.30",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def upload(
    documents: Any,
    user: dict[str, Any],
    data: bytes,
    filename: str = "kvits.pdf",
    path: str = "/documents",
    **form: Any,
) -> Any:
    import io

    body = {**form, "file": (io.BytesIO(data), filename)}
    return documents.post(path, headers=user["headers"], data=body, content_type="multipart/form-data")


def count_documents(runtime: Any) -> int:
    with runtime.db.session() as s:
        return int(s.execute(select(func.count()).select_from(Document)).scalar_one())


def outbox_rows(runtime: Any, task: str | None = None) -> list[Any]:
    with runtime.db.session() as s:
        query = select(MESSAGING.outbox)
        if task:
            query = query.where(MESSAGING.outbox.c.task_name == task)
        return list(s.execute(query).all())


def queued(broker_url: str, queue: str, task: str) -> list[dict[str, Any]]:
    """The envelopes of `task` waiting on a queue of the real broker (no consumer runs for finance here)."""
    out = []
    for raw in redis.Redis.from_url(broker_url).lrange(queue, 0, -1):
        msg = json.loads(raw)
        if msg["headers"]["task"] == task:
            out.append(json.loads(base64.b64decode(msg["body"]))[1]["message"])
    return out


def bucket_keys(runtime: Any, prefix: str = "") -> list[str]:
    storage = runtime.storage
    return [o.object_name for o in storage.client.list_objects(storage.bucket, prefix=prefix, recursive=True)]


@pytest.fixture()
def documents_worker(documents_settings: DocumentsSettings, documents: Any) -> Iterator[Worker]:
    s = documents_settings
    env = {
        "DOCUMENTS_DATABASE_URL": s.database_url,
        "REDIS_URL": s.broker_url,
        "S3_ENDPOINT_URL": s.s3_endpoint_url,
        "S3_ACCESS_KEY": s.s3_access_key,
        "S3_SECRET_KEY": s.s3_secret_key,
        "DOCUMENTS_BUCKET": s.bucket,
        "JWT_ISSUER": s.jwt_issuer,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "console",
    }
    w = Worker("services.documents.worker", "documents", env, log_path("documents-worker"), concurrency=1)
    w.start()
    yield w
    w.stop()


@pytest.fixture()
def s3_restarted(stack: Any, docs_runtime: Any) -> Any:
    """Whatever a test does to S3, it is running and taking writes again afterwards."""
    yield stack
    if "s3" not in stack.pids():
        stack.start_server("s3")
    storage = docs_runtime.storage

    def takes_writes() -> bool:
        try:
            storage.client.put_object(storage.bucket, "probe/after-restart", io.BytesIO(b"1"), 1)
        except Exception:
            return False
        return True

    wait_for(takes_writes, timeout=60, interval=0.5, message="S3 to take writes after its restart")


def visible_documents(runtime: Any) -> int:
    with runtime.db.session() as s:
        return len(s.execute(select(Document.id).where(Document.state == ACTIVE)).all())


def unfinished(runtime: Any) -> list[str]:
    with runtime.db.session() as s:
        states = s.execute(select(DocumentVersion.state).where(DocumentVersion.state.in_((UPLOADING, ABANDONED))))
        return sorted(states.scalars())


def sweep_later(runtime: Any, settings: Any) -> Any:
    """The sweep as it runs once the grace period has passed."""
    with runtime.db.session() as s:
        later = utcnow() + timedelta(minutes=settings.sweep_after_minutes + 1)
        return sweep.sweep_uploads(s, runtime.storage, settings, now=later)
