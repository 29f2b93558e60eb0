"""Transactional outbox, idempotent consumers and dead letters, on each service's own database."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from celery import Celery
from marshmallow import ValidationError
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from .contracts import Contract
from .db import UTCDateTime, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MessagingTables:
    outbox: Table
    processed: Table
    dead_letters: Table


def messaging_tables(metadata: MetaData) -> MessagingTables:
    """Add the outbox, processed-message and dead-letter tables to a service's metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("task_name", String(120), nullable=False),
        Column("version", Integer, nullable=False),
        Column("queue", String(40), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("correlation_id", String(64)),
        Column("created_at", UTCDateTime, nullable=False),
        Column("available_at", UTCDateTime, nullable=False),
        Column("sent_at", UTCDateTime),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text),
        Index("ix_outbox_pending", "available_at", postgresql_where="sent_at IS NULL"),
    )
    processed = Table(
        "processed_messages",
        metadata,
        Column("message_id", String(64), primary_key=True),
        Column("task_name", String(120), nullable=False),
        Column("processed_at", UTCDateTime, nullable=False),
    )
    dead = Table(
        "dead_letters",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("message_id", String(64), nullable=False, index=True),
        Column("task_name", String(120), nullable=False),
        Column("version", Integer, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("correlation_id", String(64)),
        Column("error_type", String(120), nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("failed_at", UTCDateTime, nullable=False),
        Column("replayed_at", UTCDateTime),
        Column("replayed_by", String(64)),
        Index("ix_dead_letters_open", "failed_at", postgresql_where="replayed_at IS NULL"),
    )
    return MessagingTables(outbox, processed, dead)


def envelope(row: Any) -> dict[str, Any]:
    return {
        "message_id": str(row.id),
        "name": row.task_name,
        "version": row.version,
        "correlation_id": row.correlation_id,
        "payload": row.payload,
    }


class Outbox:
    """Write messages in the caller's transaction; relay them to the broker after commit."""

    def __init__(
        self,
        engine: Engine,
        celery: Celery,
        tables: MessagingTables,
        contract: Contract,
        *,
        test_duplicate_sends: bool = False,
        on_sent: Callable[[Connection, list[Any]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.celery = celery
        self.table = tables.outbox
        self.contract = contract
        # what the service records once messages are with the broker (documents: a check is `queued`)
        self.on_sent = on_sent
        # tests only (settings refuse it outside a test run): each message is sent twice, same id and body
        self.test_duplicate_sends = test_duplicate_sends
        if test_duplicate_sends:
            log.warning("outbox_test_duplicate_sends_on")

    def publish(
        self,
        session: Session,
        name: str,
        payload: dict[str, Any],
        *,
        correlation_id: str | None = None,
        message_id: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Record a message (or an event's fan-out) in this transaction; sent once it commits."""
        now = utcnow()
        ids: list[uuid.UUID] = []
        for spec in self.contract.targets(name):
            body = spec.normalise(payload)  # raises ValidationError: nothing is recorded
            mid = message_id if message_id and len(ids) == 0 else uuid.uuid4()
            session.execute(
                insert(self.table).values(
                    id=mid,
                    task_name=spec.name,
                    version=spec.version,
                    queue=spec.queue,
                    payload=body,
                    correlation_id=correlation_id or _correlation_id(),
                    created_at=now,
                    available_at=now,
                    attempts=0,
                )
            )
            ids.append(mid)
        self.track(session, ids)
        return ids

    def track(self, session: Session, ids: list[uuid.UUID]) -> None:
        """Relay these outbox rows as soon as the session's transaction commits."""
        session.info.setdefault("outbox_ids", []).extend(ids)
        if not session.info.get("outbox_hooked"):
            session.info["outbox_hooked"] = True
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_rollback", _forget_pending)

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint was released, not the transaction: the rows are not committed yet
        ids = session.info.pop("outbox_ids", [])
        if ids:
            try:
                self.relay(ids=ids)
            except Exception:  # the relay loop sends it later; the commit stands
                log.warning("outbox_relay_deferred", count=len(ids), exc_info=True)

    def relay(self, ids: Iterable[uuid.UUID] | None = None, limit: int = 200) -> int:
        """Send pending messages; a failure leaves them pending with a backoff. Returns how many sent."""
        sent: list[Any] = []
        with self.engine.begin() as conn:
            query = (
                select(self.table)
                .where(self.table.c.sent_at.is_(None), self.table.c.available_at <= utcnow())
                .order_by(self.table.c.created_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            if ids is not None:
                query = query.where(self.table.c.id.in_(list(ids)))
            for row in conn.execute(query).all():
                try:
                    for _copy in range(2 if self.test_duplicate_sends else 1):
                        self.celery.send_task(
                            row.task_name,
                            kwargs={"message": envelope(row)},
                            queue=row.queue,
                            task_id=str(row.id),
                            retry=False,
                        )
                except Exception as exc:
                    delay = min(60.0, 2.0 ** min(row.attempts, 6)) * (0.5 + random.random())
                    conn.execute(
                        update(self.table)
                        .where(self.table.c.id == row.id)
                        .values(
                            attempts=row.attempts + 1,
                            last_error=f"{type(exc).__name__}: {exc}"[:2000],
                            available_at=utcnow() + timedelta(seconds=delay),
                        )
                    )
                    log.warning("outbox_send_failed", task=row.task_name, error_type=type(exc).__name__)
                    break  # the broker is likely down: stop this round, keep order
                sent.append(row)
            if sent:  # one statement for the round (a check's verdict relays four or five messages at once)
                conn.execute(
                    update(self.table)
                    .where(self.table.c.id.in_([row.id for row in sent]))
                    .values(sent_at=utcnow(), attempts=self.table.c.attempts + 1)
                )
                if self.on_sent is not None:
                    try:
                        with conn.begin_nested():
                            self.on_sent(conn, sent)
                    except Exception:  # what is sent stays sent; only the service's note of it is lost
                        log.warning("outbox_on_sent_failed", exc_info=True)
        return len(sent)

    def pending_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(self.table).where(self.table.c.sent_at.is_(None))
            ).scalar_one()


def _forget_pending(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop("outbox_ids", None)


def _correlation_id() -> str | None:
    ctx = structlog.contextvars.get_contextvars()
    return ctx.get("request_id") or ctx.get("correlation_id")


class RelayThread(threading.Thread):
    """Relays whatever the after-commit path could not send (broker down, crash after commit)."""

    def __init__(self, outbox: Outbox, interval: float) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.outbox = outbox
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                while self.outbox.relay() and not self.stopping.is_set():
                    pass
            except Exception:
                log.warning("outbox_relay_failed", exc_info=True)
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()


# errors worth another try: the database or the broker is away for a moment
TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, ConnectionError, TimeoutError)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT)


Handler = Callable[[Session, dict[str, Any], dict[str, Any]], None]


class Consumers:
    """Registers thin Celery tasks around handlers: validate, de-duplicate, run, commit or dead-letter."""

    def __init__(
        self,
        service: str,
        celery: Celery,
        db: Any,
        tables: MessagingTables,
        outbox: Outbox,
        contract: Contract,
        max_retries: int = 8,
        retry_backoff: float = 1.0,
        time_limits: tuple[int, int] = (50, 60),
        long_time_limits: tuple[int, int] = (1740, 1800),
    ) -> None:
        self.service = service
        self.time_limits = time_limits
        self.long_time_limits = long_time_limits
        self.celery = celery
        self.db = db
        self.tables = tables
        self.outbox = outbox
        self.contract = contract
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff

    def handler(self, name: str) -> Callable[[Handler], Any]:
        spec = self.contract.get(name)
        if spec.service != self.service:
            raise ValueError(f"{name} is consumed by {spec.service}, not {self.service}")
        consumers = self
        soft, hard = self.long_time_limits if spec.long else self.time_limits

        def decorator(fn: Handler) -> Any:
            @self.celery.task(
                name=name,
                bind=True,
                queue=spec.queue,
                max_retries=self.max_retries,
                acks_late=True,
                reject_on_worker_lost=True,
                soft_time_limit=soft,
                time_limit=hard,
                shared=False,  # Celery's default would add it to every app in the process, other services' too
            )
            def task(self: Any, message: dict[str, Any]) -> str:
                return consumers._run(self, spec, fn, message)

            task.contract = spec
            return task

        return decorator

    def _run(self, task: Any, spec: Any, fn: Handler, message: dict[str, Any]) -> str:
        message_id = str(message.get("message_id") or task.request.id)
        structlog.contextvars.bind_contextvars(
            message_id=message_id, task=spec.name, correlation_id=message.get("correlation_id")
        )
        try:
            payload = spec.load(message.get("payload") or {})
        except ValidationError as exc:
            self._dead_letter(spec, message, exc, task.request.retries + 1)
            return "invalid"
        meta = {
            "message_id": message_id,
            "correlation_id": message.get("correlation_id"),
            "version": message.get("version"),
        }
        try:
            with self.db.session() as session:
                first = session.execute(
                    pg_insert(self.tables.processed)
                    .values(message_id=message_id, task_name=spec.name, processed_at=utcnow())
                    .on_conflict_do_nothing()
                    .returning(self.tables.processed.c.message_id)
                ).first()
                if first is None:
                    log.info("message_duplicate_skipped")
                    return "duplicate"
                fn(session, payload, meta)
        except Exception as exc:
            if _is_transient(exc) and task.request.retries < task.max_retries:
                base = self.retry_backoff * 2.0**task.request.retries
                countdown = min(300.0, base) * (0.5 + random.random())  # jitter spreads a herd
                log.warning("message_retry", error_type=type(exc).__name__, countdown=round(countdown, 1))
                raise task.retry(exc=exc, countdown=countdown) from exc
            log.error("message_failed", error_type=type(exc).__name__, exc_info=True)
            self._dead_letter(spec, message, exc, task.request.retries + 1)
            return "dead_lettered"
        return "done"

    def _dead_letter(self, spec: Any, message: dict[str, Any], exc: BaseException, attempts: int) -> None:
        dl_id = uuid.uuid4()
        with self.db.session() as session:
            session.execute(
                insert(self.tables.dead_letters).values(
                    id=dl_id,
                    message_id=str(message.get("message_id") or dl_id),
                    task_name=spec.name,
                    version=int(message.get("version") or spec.version),
                    payload=message.get("payload") or {},
                    correlation_id=message.get("correlation_id"),
                    error_type=type(exc).__name__,
                    error=str(exc)[:4000],
                    attempts=attempts,
                    failed_at=utcnow(),
                )
            )
            if spec.name != "notifications.message_dead_lettered":
                self.outbox.publish(
                    session,
                    "notifications.message_dead_lettered",
                    {
                        "service": self.service,
                        "dead_letter_id": str(dl_id),
                        "task_name": spec.name,
                        "error_type": type(exc).__name__,
                    },
                )
        log.error("message_dead_lettered", dead_letter_id=str(dl_id))


def replay_dead_letter(
    session: Session, outbox: Outbox, tables: MessagingTables, dead_letter_id: uuid.UUID, replayed_by: str
) -> uuid.UUID | None:
    """Send a dead letter again under its original message id, so a replay has one effect at most."""
    row = session.execute(
        select(tables.dead_letters).where(tables.dead_letters.c.id == dead_letter_id).with_for_update()
    ).first()
    if row is None or row.replayed_at is not None:
        return None
    now = utcnow()
    message_id = uuid.UUID(row.message_id) if _is_uuid(row.message_id) else uuid.uuid4()
    # the envelope's message id is the outbox row id: reuse the original so idempotency still holds
    existing = session.execute(select(tables.outbox.c.id).where(tables.outbox.c.id == message_id)).first()
    outbox_id = message_id if existing is None else uuid.uuid4()
    # the task's lane now; a task the contract no longer has goes to its service's queue, as it was sent
    spec = outbox.contract.tasks.get(row.task_name)
    queue = spec.queue if spec is not None else row.task_name.split(".")[0]
    session.execute(
        insert(tables.outbox).values(
            id=outbox_id,
            task_name=row.task_name,
            version=row.version,
            queue=queue,
            payload=row.payload,
            correlation_id=row.correlation_id,
            created_at=now,
            available_at=now,
            attempts=0,
        )
    )
    session.execute(
        update(tables.dead_letters)
        .where(tables.dead_letters.c.id == dead_letter_id)
        .values(replayed_at=now, replayed_by=replayed_by)
    )
    outbox.track(session, [outbox_id])
    return outbox_id


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
