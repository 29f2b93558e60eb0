"""A tiny service of the tests' own, on the real kernel: its own contract, database and queue.

It lets the kernel's outbox, idempotent consumer and dead letters be tested with a real worker,
without depending on any service's business rules.
"""

from __future__ import annotations

import os
from typing import Any

from marshmallow import fields
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.orm import Session

from services.common.contracts import Contract, DeadLettered, Empty, Payload
from services.common.messaging import messaging_tables
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings

QUEUES = ("probe", "notifications")
CONTRACT = Contract(queues=QUEUES)


class Record(Payload):
    value = fields.Integer(required=True)


class Flaky(Payload):
    key = fields.String(required=True)


CONTRACT.task("probe.record", version=1, schema=Record, description="Record a value once.")
CONTRACT.task("probe.flaky", version=1, schema=Flaky, description="Fail until the switch is on.")
CONTRACT.task("probe.slow_record", version=1, schema=Record, description="Sleep, then record.")
CONTRACT.task(
    "notifications.message_dead_lettered", version=1, schema=DeadLettered, description="as in the platform contract"
)
CONTRACT.task("probe.noop", version=1, schema=Empty, description="Nothing.")

metadata = MetaData()
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("value", Integer, nullable=False),
)
switches = Table("switches", metadata, Column("key", String(40), primary_key=True))

TABLES = messaging_tables(metadata)


def settings_from_env() -> Settings:
    return Settings(
        service="probe",
        database_url=os.environ["PROBE_DATABASE_URL"],
        broker_url=os.environ["PROBE_BROKER_URL"],
        result_backend=os.environ["PROBE_BROKER_URL"],
        jwt_issuer="x",
        jwt_audience="x",
        jwks_url="x",
        log_format="console",
        outbox_relay_interval=0.2,
        task_max_retries=int(os.environ.get("PROBE_MAX_RETRIES", "3")),
        task_retry_backoff=float(os.environ.get("PROBE_RETRY_BACKOFF", "0.1")),
        broker_visibility_timeout=int(os.environ.get("PROBE_VISIBILITY_TIMEOUT", "600")),
        broker_restore_interval=float(os.environ.get("PROBE_RESTORE_INTERVAL", "30")),
    )


def make_runtime(settings: Settings) -> ServiceRuntime:
    return ServiceRuntime(settings, metadata, TABLES, CONTRACT)


class TransientFailure(ConnectionError):
    pass


def register(runtime: ServiceRuntime) -> None:
    @runtime.consumers.handler("probe.record")
    def record(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        session.execute(insert(effects).values(message_id=meta["message_id"], value=payload["value"]))

    @runtime.consumers.handler("probe.slow_record")
    def slow_record(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        import time

        session.execute(insert(effects).values(message_id=meta["message_id"], value=payload["value"]))
        time.sleep(float(os.environ.get("PROBE_SLOW_SECONDS", "3")))

    @runtime.consumers.handler("probe.flaky")
    def flaky(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        on = session.execute(select(switches).where(switches.c.key == payload["key"])).first()
        if on is None:
            raise ValueError("the switch is off")  # not transient: dead-lettered at once
        session.execute(insert(effects).values(message_id=meta["message_id"], value=1))

    @runtime.consumers.handler("probe.noop")
    def noop(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        raise TransientFailure("always down")  # transient: retried, then dead-lettered


# the scheduler's drill (tests/integration/test_scheduler.py) sends this every second
CONTRACT.schedule("probe-every-second", "probe.noop", 1.0)
