"""Shared fixtures: bundled servers (unless URLs are set), per-service databases, real workers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_ROOT = REPO / ".var" / "test"


def log_path(name: str) -> Path:
    """Where a test's subprocess logs go; kept after the run for a look when something failed."""
    path = TEST_ROOT / "logs" / f"{name}-{os.getpid()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def stack() -> Iterator[object]:
    """PostgreSQL, Redis, S3 and an SMTP sink: bundled under .var/test, or the ones the env names."""
    import shutil

    from devstack import Stack

    # one root per test session, so two sessions (a developer's and a helper's) never share servers
    root = TEST_ROOT / f"session-{os.getpid()}"
    s = Stack(root, fast=True)
    s.start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_env(stack) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(stack.env())


@pytest.fixture(scope="session")
def redis_url(stack_env: dict[str, str]) -> str:
    """A Redis database of the test run's own, emptied at start."""
    import redis

    base = stack_env["REDIS_URL"].rsplit("/", 1)[0]
    url = f"{base}/{os.environ.get('TEST_REDIS_DB', '1')}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="session")
def make_database(stack) -> Iterator[Callable[[str], str]]:  # type: ignore[no-untyped-def]
    """Create a fresh database per call (dropped at the end); returns its SQLAlchemy URL."""
    created: list[str] = []
    admin_url = stack.env()["POSTGRES_URL"]

    def make(prefix: str) -> str:
        name = f"t_{prefix}_{uuid.uuid4().hex[:8]}"
        url = stack.create_database(name)
        created.append(name)
        return url.replace("postgresql://", "postgresql+psycopg://", 1)

    yield make
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_all(url: str, tables: list[str]) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
