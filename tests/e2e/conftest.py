"""The whole platform as `make run` starts it (devstack.run.Launcher): bundled servers, migrations, the first
admin, every process of deploy/processes.toml, supervised in a background thread exactly as the launcher does.

Tests talk to it over HTTP only; the handles here are for injecting faults (kill or restart a process, stop or
start a server) and for reading the SMTP sink. One platform per test package, on its own root under
.var/test/e2e-<pid>; everything it started is stopped at the end and checked to be gone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.platform import SERVICES, Platform, run_platform

__all__ = ["SERVICES", "Platform"]

# What the end-to-end platform changes from `make run`'s defaults, and why.
E2E_ENV = {
    "IDENTITY_ADMIN_EMAIL": "ikvd-admin@e2e.test",
    # cheap password hashes: the tests make and log in a few dozen users (production keeps the default cost)
    "IDENTITY_PASSWORD_TIME_COST": "1",
    "IDENTITY_PASSWORD_MEMORY_KIB": "1024",
    "IDENTITY_PASSWORD_PARALLELISM": "1",
    # one gunicorn worker per API (threads serve the tests' requests): the machine has two cores
    "WEB_CONCURRENCY": "1",
    "WEB_THREADS": "4",
    # the time limits, the visibility timeout and its sweep are the defaults: the killed worker's drill measures
    # what production promises. Shorter SMTP and S3 timeouts make the outage drills answer sooner
    "SMTP_TIMEOUT": "3",
    "S3_READ_TIMEOUT": "4",
    # retries and the outbox relay sooner, so an outage's aftermath settles in test time
    "TASK_RETRY_BACKOFF": "0.3",
    "OUTBOX_RELAY_INTERVAL": "0.5",
    "NOTIFICATIONS_LINK_BASE_URL": "https://pumpurs.e2e.test",
    "LOG_LEVEL": "INFO",
    # allows the test-only fault switch (every message sent twice) that one test turns on
    "PUMPURS_TEST_RUN": "1",
}


@pytest.fixture(scope="package")
def platform() -> Iterator[Platform]:
    """Every server, job and process of `make run`, on a root of this test run's own; finance on its own PostgreSQL."""
    with run_platform("e2e", E2E_ENV, own_finance_db=True) as running:
        yield running
