"""The scheduler runs for days: past many lock timeouts and across a Redis restart that loses its lock, it keeps
sending what the contract schedules. The real `celery beat` process with the platform's scheduler class, on short
intervals, against the bundled Redis, which is really stopped and started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from services.common.celery_app import REDBEAT_LOCK_KEY, SCHEDULER_CLASS
from tests.conftest import REPO, log_path
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration

LOCK_TIMEOUT = 3  # seconds; the scheduler wakes every second


@pytest.fixture()
def scheduler_redis(stack_env: dict[str, str]) -> Iterator[str]:
    """A Redis database of this test's own (the probe's schedule and the redbeat keys stay in it)."""
    url = stack_env["REDIS_URL"].rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def start_scheduler(url: str) -> tuple[subprocess.Popen[bytes], Any]:
    log = log_path("probe-scheduler")
    env = {
        **os.environ,
        "REDIS_URL": url,
        "SCHEDULER_MAX_INTERVAL": "1",
        "SCHEDULER_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
        "LOG_FORMAT": "console",
    }
    command = [sys.executable, "-m", "celery", "-A", "tests.support.probe_scheduler", "beat"]
    command += ["--scheduler", SCHEDULER_CLASS, "--loglevel", "INFO", "--pidfile="]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return proc, log


def test_the_scheduler_keeps_its_lock_past_many_timeouts_and_comes_back_after_redis_restarts(stack, scheduler_redis):
    r = redis.Redis.from_url(scheduler_redis, socket_timeout=5)
    proc, log = start_scheduler(scheduler_redis)

    def sent() -> int:
        return int(r.llen("probe"))  # probe.noop every second; no worker takes them here

    def alive() -> bool:
        return proc.poll() is None

    try:
        wait_for(lambda: sent() >= 2, timeout=60, message="the scheduler sending its schedule")
        time.sleep(4 * LOCK_TIMEOUT)  # its lock would have lapsed four times over without renewal
        assert alive(), log.read_text()[-3000:]
        assert 0 < r.pttl(REDBEAT_LOCK_KEY) <= LOCK_TIMEOUT * 1000
        before = sent()
        assert before >= 4 * LOCK_TIMEOUT - 2  # it went on sending meanwhile

        stack.stop_server("redis")
        try:
            time.sleep(LOCK_TIMEOUT + 2)  # Redis comes back without the lock (expired while it was down)
            assert alive(), log.read_text()[-3000:]
        finally:
            stack.start_server("redis")
        wait_for(lambda: sent() >= before + 3, timeout=60, message="the schedule sent again after the restart")
        assert alive() and r.exists(REDBEAT_LOCK_KEY)
        text = log.read_text(errors="replace")
        assert "scheduler_lock_taken_again" in text and "LockNotOwnedError" not in text
    finally:
        if alive():
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
