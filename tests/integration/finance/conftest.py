"""Finance fixtures: a finance app and a real finance worker on real PostgreSQL, Redis and S3, fed by identity
(tenants through the broker) and by messages sent exactly as plans and documents send them.

Statements are staged in the documents bucket of the documents fixtures, and the documents worker stores them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from services.common import migrate
from services.common.contracts import CONTRACT
from services.finance import settings_changes
from services.finance.models import MESSAGING, Base, Claim, PlanRM, SchoolRM, TenantRM
from services.finance.settings import FinanceSettings
from tests.conftest import log_path, truncate_all
from tests.integration.documents.conftest import (  # noqa: F401  (fixtures used here)
    documents,
    documents_app,
    documents_settings,
    documents_worker,
)
from tests.support.workers import Worker, wait_for

SEMESTER = ("2026/2027-1", "2026-09-01", "2026-12-22")


@pytest.fixture(scope="session")
def finance_settings(  # type: ignore[no-untyped-def]
    make_database,
    redis_url,
    stack_env,
    identity_settings,
    documents_settings,  # noqa: F811  (the imported fixture, by name)
) -> FinanceSettings:
    url = make_database("finance")
    migrate.upgrade("finance", url)
    return FinanceSettings(
        service="finance",
        database_url=url,
        broker_url=redis_url,
        result_backend=redis_url,
        jwt_issuer=identity_settings.jwt_issuer,
        jwt_audience="pumpurs",
        jwks_url=identity_settings.jwks_url,
        log_format="console",
        log_level="WARNING",
        task_retry_backoff=0.2,
        s3_endpoint_url=stack_env["S3_ENDPOINT_URL"],
        s3_access_key=stack_env["S3_ACCESS_KEY"],
        s3_secret_key=stack_env["S3_SECRET_KEY"],
        bucket=documents_settings.bucket,
        s3_connect_timeout=1.0,
        s3_read_timeout=5.0,
        recheck_batch=3,  # small, so the tests see a re-check continue in a second batch
    )


def finance_env(s: FinanceSettings) -> dict[str, str]:
    return {
        "FINANCE_DATABASE_URL": s.database_url,
        "REDIS_URL": s.broker_url,
        "S3_ENDPOINT_URL": s.s3_endpoint_url,
        "S3_ACCESS_KEY": s.s3_access_key,
        "S3_SECRET_KEY": s.s3_secret_key,
        "DOCUMENTS_BUCKET": s.bucket,
        "JWT_ISSUER": s.jwt_issuer,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "console",
        "TASK_RETRY_BACKOFF": "0.2",
        "FINANCE_RECHECK_BATCH": str(s.recheck_batch),
    }


# stopped after this package: later tests (documents', plans') read the finance queue with no consumer on it
@pytest.fixture(scope="package")
def finance_worker(finance_settings: FinanceSettings) -> Iterator[Worker]:
    # one worker for both lanes here: the short tasks and the long ones (statements, re-checks)
    w = Worker(
        "services.finance.worker", "finance,finance.long", finance_env(finance_settings), log_path("finance-worker")
    )
    w.start()
    yield w
    w.stop()
    # what these tests published for services whose workers do not run here (settings revisions, verdicts)
    # must not reach those services' own tests later in the session
    redis.Redis.from_url(finance_settings.broker_url).delete(*CONTRACT.all_queues)


@pytest.fixture(scope="session")
def finance_app(finance_settings: FinanceSettings, identity_app: Any) -> Any:
    from services.finance.app import create_app
    from services.identity.app import LocalKeys

    app = create_app(finance_settings, key_source=LocalKeys(identity_app.extensions["runtime"]))
    app.testing = True
    return app


@pytest.fixture()
def fin_runtime(finance_app: Any) -> Any:
    return finance_app.extensions["runtime"]


@pytest.fixture()
def finance(finance_app: Any, finance_settings: FinanceSettings, finance_worker: Worker, client: Any) -> Any:
    """A finance test client on a clean finance database with the EXAMPLE settings seeded (identity clean too)."""
    redis.Redis.from_url(finance_settings.broker_url).delete("finance")
    truncate_all(finance_settings.database_url, [t.name for t in Base.metadata.sorted_tables])
    runtime = finance_app.extensions["runtime"]
    with runtime.db.session() as s:
        settings_changes.seed(s, runtime.outbox)
    return finance_app.test_client()


def send_as(runtime: Any, task: str, payload: dict[str, Any], message_id: str | None = None) -> str:
    """Send a message through the broker as another service's outbox would; returns its message id."""
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


def outbox(runtime: Any, task: str | None = None) -> list[dict[str, Any]]:
    """The payloads finance has recorded to send (of one task), oldest first."""
    with runtime.db.session() as s:
        query = select(MESSAGING.outbox).order_by(MESSAGING.outbox.c.created_at)
        if task:
            query = query.where(MESSAGING.outbox.c.task_name == task)
        return [dict(r.payload) for r in s.execute(query).all()]


def count(runtime: Any, model: Any) -> int:
    with runtime.db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


class FinanceWorld:
    """Tenants and users made in identity (their state reaches finance through the broker); plans, hours,
    attestations and expense documents sent as plans and documents send them."""

    def __init__(self, world: Any, runtime: Any) -> None:
        self.world, self.runtime = world, runtime

    def tenant(self, region: str = "kurzeme", kind: str = "municipality") -> dict[str, Any]:
        tenant = self.world.tenant(kind=kind, region=region)
        if kind == "municipality":
            tenant["schools"] = [self.world.school(tenant)]
        tenant["school"] = tenant["schools"][0]

        def arrived() -> bool:
            with self.runtime.db.session() as s:
                return s.get(SchoolRM, uuid.UUID(tenant["school"])) is not None

        wait_for(arrived, timeout=30, message="the tenant and its school in finance")
        return tenant

    def user(self, tenant: dict[str, Any] | None, role: str, school: bool = False, **grant: Any) -> dict[str, Any]:
        g: dict[str, Any] = {"role": role, **grant}
        if tenant is not None:
            g["tenant_id"] = tenant["id"]
            if school:
                g["school_id"] = tenant["school"]
        return self.world.user(tenant, g)

    def plan(self, tenant: dict[str, Any], *, wait: bool = True, **kw: Any) -> dict[str, Any]:
        snap = snapshot(tenant, **kw)
        self.send_plan(snap, wait=wait)
        return snap

    def send_plan(self, snap: dict[str, Any], wait: bool = True) -> None:
        send_as(self.runtime, "finance.sync_plan", snap)
        if wait:

            def arrived() -> bool:
                with self.runtime.db.session() as s:
                    p = s.get(PlanRM, uuid.UUID(snap["plan_id"]))
                    return p is not None and p.revision >= snap["revision"]

            wait_for(arrived, message="the plan in finance")

    def attestation(self, tenant: dict[str, Any], plan: dict[str, Any], **kw: Any) -> dict[str, Any]:
        body = {
            **_facts(tenant, plan),
            "plan_id": plan["plan_id"],
            "issued_on": "2026-08-20",
            "valid_from": "2026-09-01",
            "valid_to": "2026-12-22",
            "categories": ["meals", "public_transport", "learning_materials"],
            **kw,
        }
        send_as(self.runtime, "finance.register_attestation", body)
        from services.finance.models import Attestation

        def arrived() -> bool:
            with self.runtime.db.session() as s:
                return s.execute(
                    select(Attestation).where(Attestation.document_id == uuid.UUID(body["document_id"]))
                ).first()

        wait_for(arrived, message="the attestation in finance")
        return body

    def expense(self, tenant: dict[str, Any], plan: dict[str, Any], *, wait: bool = True, **kw: Any) -> dict[str, Any]:
        body = expense(tenant, plan, **kw)
        send_as(self.runtime, "finance.check_expense_document", body)
        if wait:
            body["claim"] = self.claim_of(body["document_id"], body["version"])
        return body

    def claim_of(self, document_id: str, version: int = 1) -> Claim:
        def found() -> Claim | None:
            with self.runtime.db.session() as s:
                return (
                    s.execute(
                        select(Claim)
                        .where(Claim.document_id == uuid.UUID(document_id), Claim.version == version)
                        .order_by(Claim.line)
                    )
                    .scalars()
                    .first()
                )

        return wait_for(found, message=f"a claim of document {document_id}")  # type: ignore[no-any-return]

    def consultation(self, tenant: dict[str, Any], plan: dict[str, Any], hours: str, held_on: str) -> None:
        send_as(
            self.runtime,
            "finance.consultation_delivered",
            {
                "consultation_id": str(uuid.uuid4()),
                "plan_id": plan["plan_id"],
                "measure_id": plan["measures"][-1]["measure_id"],
                "tenant_id": tenant["id"],
                "school_id": tenant["school"],
                "provider_type": "psychologist",
                "held_on": held_on,
                "hours": hours,
                "mode": "in_person",
            },
        )


@pytest.fixture()
def fin_world(world: Any, fin_runtime: Any, finance: Any) -> FinanceWorld:
    return FinanceWorld(world, fin_runtime)


def student_key() -> str:
    """A stand-in for plans' HMAC of a personal code: 64 hex digits, never a code."""
    return uuid.uuid4().hex + uuid.uuid4().hex


def snapshot(
    tenant: dict[str, Any],
    *,
    plan_id: str | None = None,
    student_id: str | None = None,
    key: str | None = None,
    status: str = "in_progress",
    revision: int = 1,
    prepared_on: str = "2026-09-10",
    preparation_hours: str = "2.00",
    planned: dict[str, str] | None = None,
    semester: tuple[str, str, str] = SEMESTER,
) -> dict[str, Any]:
    """A plan snapshot as plans sends it: compensations per category, and 10 psychologist hours."""
    planned = planned if planned is not None else {"meals": "300.00", "public_transport": "100.00"}
    measures: list[dict[str, Any]] = [
        {"measure_id": str(uuid.uuid4()), "kind": "compensation", "category": c, "planned_amount": a}
        for c, a in planned.items()
    ]
    consultation = {"kind": "consultation", "provider_type": "psychologist", "planned_hours": "10.00"}
    measures.append({"measure_id": str(uuid.uuid4()), **consultation})
    financing = sum((Decimal(a) for a in planned.values()), Decimal(0)) + Decimal("300.00")
    financing += Decimal(preparation_hours) * Decimal("20.00")
    return {
        "plan_id": plan_id or str(uuid.uuid4()),
        "revision": revision,
        "code": f"IAP-20262027-{uuid.uuid4().hex[:6].upper()}",
        "tenant_id": tenant["id"],
        "school_id": tenant["school"],
        "student_id": student_id or str(uuid.uuid4()),
        "student_key": key or student_key(),
        "semester": semester[0],
        "semester_start": semester[1],
        "semester_end": semester[2],
        "status": status,
        "prepared_on": prepared_on,
        "preparation_hours": preparation_hours,
        "planned_financing": str(financing.quantize(Decimal("0.01"))),
        "measures": measures,
    }


def _facts(tenant: dict[str, Any], plan: dict[str, Any], sha: str | None = None) -> dict[str, Any]:
    return {
        "document_id": str(uuid.uuid4()),
        "version": 1,
        "tenant_id": tenant["id"],
        "school_id": tenant["school"],
        "student_id": plan["student_id"],
        "sha256": sha or (uuid.uuid4().hex + uuid.uuid4().hex),
        "size": 2048,
        "media_type": "application/pdf",
        "duplicate_in_tenant": False,
        "duplicate_of": [],
        "uploaded_by": str(uuid.uuid4()),
        "uploaded_at": datetime.now(UTC).isoformat(),
    }


def expense(
    tenant: dict[str, Any],
    plan: dict[str, Any],
    *,
    category: str = "meals",
    month: str = "2026-10-01",
    amount: str = "50.00",
    sha: str | None = None,
    document_id: str | None = None,
    version: int = 1,
    lines: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    body = {
        **_facts(tenant, plan, sha),
        "kind": "expense_receipt",
        "plan_id": plan["plan_id"],
        "category": category,
        "month": month,
        "amount": amount,
        "version": version,
    }
    if document_id:
        body["document_id"] = document_id
    if lines is not None:
        body["lines"] = lines
    return body


def results(runtime: Any, claim_id: Any) -> dict[str, Any]:
    """The claim's current results by rule id."""
    from services.finance import checks

    with runtime.db.session() as s:
        claim = s.get(Claim, claim_id)
        return {r.rule_id: r for r in checks.current_results(s, claim)}


def tenant_rm(runtime: Any, tenant_id: str) -> TenantRM | None:
    with runtime.db.session() as s:
        return s.get(TenantRM, uuid.UUID(tenant_id))
