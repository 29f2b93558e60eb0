"""A service's wiring in one object: settings, database, Celery app, outbox and consumers."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import redis
from celery import Celery
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from .audit import SESSION_KEY, TABLE
from .celery_app import install_leases, install_outbox_relay, make_celery
from .contracts import CONTRACT, Contract
from .db import Database
from .logging import configure_logging
from .messaging import Consumers, MessagingTables, Outbox
from .settings import Settings


class ServiceRuntime:
    """Built once per process; nothing here does I/O until first used."""

    # what the service records once its outbox has handed messages to the broker (a subclass's hook)
    outbox_on_sent: Callable[[Connection, list[Any]], None] | None = None

    def __init__(
        self, settings: Settings, metadata: MetaData, tables: MessagingTables, contract: Contract = CONTRACT
    ) -> None:
        self.settings = settings
        self.metadata = metadata
        self.tables = tables
        self.contract = contract

    @cached_property
    def db(self) -> Database:
        audit = self.metadata.tables.get(TABLE)
        return Database(self.settings.database_url, info={SESSION_KEY: audit} if audit is not None else None)

    @cached_property
    def celery(self) -> Celery:
        configure_logging(self.settings.service, self.settings.log_format, self.settings.log_level)
        app = make_celery(self.settings, self.contract)
        install_outbox_relay(app, lambda: self.outbox, self.settings.outbox_relay_interval)
        install_leases(app, self.settings.broker_restore_interval)
        return app

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(
            self.db.engine,
            self.celery,
            self.tables,
            self.contract,
            test_duplicate_sends=self.settings.test_duplicate_sends,
            on_sent=self.outbox_on_sent,
        )

    @cached_property
    def consumers(self) -> Consumers:
        return Consumers(
            self.settings.service,
            self.celery,
            self.db,
            self.tables,
            self.outbox,
            self.contract,
            max_retries=self.settings.task_max_retries,
            retry_backoff=self.settings.task_retry_backoff,
            time_limits=(self.settings.task_soft_time_limit, self.settings.task_time_limit),
            long_time_limits=(self.settings.long_task_soft_time_limit, self.settings.long_task_time_limit),
        )

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.broker_url, socket_connect_timeout=2, socket_timeout=2)

    def readiness(self) -> dict[str, object]:
        """Checks /readyz runs: the service's own database and the broker."""
        return {"database": self.db.ping, "broker": self.redis.ping}
