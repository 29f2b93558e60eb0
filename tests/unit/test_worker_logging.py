"""A worker started as deployed (no --loglevel) logs at LOG_LEVEL, not at Celery's default WARNING (no servers)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.unit

# what `celery worker` does at start, in a process of its own (logging is configured once per process)
SCRIPT = """
import logging
from services.identity.worker import celery as app  # the service configures its logging (LOG_LEVEL)
app.log.setup_logging_subsystem(loglevel=None)  # celery worker without --loglevel: WARNING
print(logging.getLevelName(logging.getLogger().level))
"""


@pytest.mark.parametrize("level", ["INFO", "ERROR"])
def test_a_worker_without_loglevel_logs_at_log_level(level: str) -> None:
    env = {
        **os.environ,
        "IDENTITY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",  # nothing connects
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "ACCOUNT_LINK_SECRET": "x",
        "LOG_LEVEL": level,
    }
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == level
