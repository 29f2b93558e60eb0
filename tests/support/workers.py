"""Real Celery workers in subprocesses, for tests that claim to test the pipeline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Worker:
    """`celery -A <app> worker -Q <queue>` in its own process group, logging to a file (`queue` may list several,
    comma-separated: a service's queue and its long lane)."""

    def __init__(
        self,
        app: str,
        queue: str,
        env: dict[str, str],
        log_path: Path,
        concurrency: int = 2,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.app, self.queue, self.env, self.log_path = app, queue, env, log_path
        self.concurrency = concurrency
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Worker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            self.app,
            "worker",
            "-Q",
            self.queue,
            "-c",
            str(self.concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{self.queue.split(',')[0]}-test-{os.getpid()}-{time.monotonic_ns()}@%h",
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            if " ready." in text:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.app} exited:\n{text[-3000:]}")
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"worker {self.app} not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy; return its value or fail with `message`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
