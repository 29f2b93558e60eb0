"""Typed settings, read once from the environment."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from environs import Env

SERVICES = ("identity", "plans", "documents", "finance", "notifications")


@dataclass(frozen=True)
class Settings:
    """What every service needs; a service subclasses it for its own values."""

    service: str
    database_url: str
    broker_url: str
    result_backend: str
    jwt_issuer: str
    jwt_audience: str
    jwks_url: str
    log_format: str = "json"
    log_level: str = "INFO"
    # seconds a task may run: the short kinds (checks, verdicts, read models, deliveries) and the long ones
    # that have their own queue (statements, re-checks, reminders; TaskContract.long)
    task_soft_time_limit: int = 50
    task_time_limit: int = 60
    long_task_soft_time_limit: int = 1740
    long_task_time_limit: int = 1800
    # seconds a message a worker took stays away before it is put back, should that worker be lost. A live
    # worker renews the lease of every message it holds each restore interval, so this need not outlast any
    # time limit: it is how long a lost worker's messages wait (DESIGN.md, traps)
    broker_visibility_timeout: int = 30
    # seconds between a worker's lease renewals and its sweeps that put a lost worker's messages back once
    # their visibility timeout has passed (kombu alone sweeps only at a worker's start and about every 100 s)
    broker_restore_interval: float = 5.0
    # the scheduler wakes at least this often (seconds) and renews its lock, which lapses after the timeout
    # (another scheduler then takes over)
    scheduler_max_interval: float = 10.0
    scheduler_lock_timeout: int = 60
    task_max_retries: int = 8
    task_retry_backoff: float = 1.0  # seconds before the first retry; doubles each time
    outbox_relay_interval: float = 1.0
    jwks_cache_seconds: int = 300
    # behind the gateway: trust X-Forwarded-* (prefix, scheme, host) from the one proxy in front
    behind_proxy: bool = False
    # a request body above this answers 413 before it is read (uploads have their own, larger limit)
    max_request_bytes: int = 1024 * 1024
    # tests only: the outbox sends every message twice, as an at-least-once broker may (see common_values)
    test_duplicate_sends: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for soft, hard in (
            (self.task_soft_time_limit, self.task_time_limit),
            (self.long_task_soft_time_limit, self.long_task_time_limit),
        ):
            if not 0 < soft < hard:
                raise ValueError(f"a soft time limit ({soft} s) must be positive and below its hard one ({hard} s)")
        if self.scheduler_lock_timeout < 3 * self.scheduler_max_interval:
            raise ValueError(
                f"SCHEDULER_LOCK_TIMEOUT ({self.scheduler_lock_timeout} s) must be at least three times "
                f"SCHEDULER_MAX_INTERVAL ({self.scheduler_max_interval} s)"
            )
        # a lease must outlive two missed renewals, or a busy moment puts a live worker's message back
        if self.broker_visibility_timeout < 3 * self.broker_restore_interval:
            raise ValueError(
                f"BROKER_VISIBILITY_TIMEOUT ({self.broker_visibility_timeout} s) must be at least three times "
                f"BROKER_RESTORE_INTERVAL ({self.broker_restore_interval} s)"
            )

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some values changed (tests and CLIs)."""
        return dataclasses.replace(self, **changes)


def _sqlalchemy_url(url: str) -> str:
    # one driver everywhere: psycopg 3
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def read_env() -> Env:
    env = Env()
    env.read_env(override=False)  # a .env file never wins over the real environment
    return env


# A fault the end-to-end tests inject: every message sent twice. Honoured only in a test run, so a stray
# variable in production stops the service at start instead of doubling its traffic.
DUPLICATE_SENDS_VAR = "PUMPURS_TEST_ONLY_DUPLICATE_EVERY_MESSAGE"
TEST_RUN_VAR = "PUMPURS_TEST_RUN"


def _test_duplicate_sends(env: Env) -> bool:
    if not env.bool(DUPLICATE_SENDS_VAR, False):
        return False
    if env.str(TEST_RUN_VAR, "") != "1":
        raise ValueError(f"{DUPLICATE_SENDS_VAR} is a test-only fault; it is refused unless {TEST_RUN_VAR}=1")
    return True


def common_values(service: str, env: Env | None = None, *, database: bool = True) -> dict[str, Any]:
    """Read the values shared by every service from the environment."""
    env = env or read_env()
    prefix = service.upper()
    redis_url = env.str("REDIS_URL", "redis://127.0.0.1:6379/0")
    identity_url = env.str("IDENTITY_PUBLIC_URL", "http://127.0.0.1:8001")
    return dict(
        service=service,
        database_url=_sqlalchemy_url(env.str(f"{prefix}_DATABASE_URL")) if database else "",
        broker_url=env.str("CELERY_BROKER_URL", redis_url),
        result_backend=env.str("CELERY_RESULT_BACKEND", redis_url),
        jwt_issuer=env.str("JWT_ISSUER", identity_url),
        jwt_audience=env.str("JWT_AUDIENCE", "pumpurs"),
        jwks_url=env.str("JWKS_URL", identity_url.rstrip("/") + "/.well-known/jwks.json"),
        log_format=env.str("LOG_FORMAT", "json"),
        log_level=env.str("LOG_LEVEL", "INFO"),
        task_soft_time_limit=env.int("TASK_SOFT_TIME_LIMIT", 50),
        task_time_limit=env.int("TASK_TIME_LIMIT", 60),
        long_task_soft_time_limit=env.int("LONG_TASK_SOFT_TIME_LIMIT", 1740),
        long_task_time_limit=env.int("LONG_TASK_TIME_LIMIT", 1800),
        broker_visibility_timeout=env.int("BROKER_VISIBILITY_TIMEOUT", 30),
        broker_restore_interval=env.float("BROKER_RESTORE_INTERVAL", 5.0),
        scheduler_max_interval=env.float("SCHEDULER_MAX_INTERVAL", 10.0),
        scheduler_lock_timeout=env.int("SCHEDULER_LOCK_TIMEOUT", 60),
        task_max_retries=env.int("TASK_MAX_RETRIES", 8),
        task_retry_backoff=env.float("TASK_RETRY_BACKOFF", 1.0),
        outbox_relay_interval=env.float("OUTBOX_RELAY_INTERVAL", 1.0),
        jwks_cache_seconds=env.int("JWKS_CACHE_SECONDS", 300),
        behind_proxy=env.bool("BEHIND_PROXY", False),
        max_request_bytes=env.int(f"{prefix}_MAX_REQUEST_BYTES", env.int("MAX_REQUEST_BYTES", 1024 * 1024)),
        test_duplicate_sends=_test_duplicate_sends(env),
    )


def load_settings(service: str) -> Settings:
    """Build the settings of a service that has nothing of its own."""
    return Settings(**common_values(service))
