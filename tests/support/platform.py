"""The whole platform as `make run` starts it (devstack.run.Launcher: bundled servers, migrations, the first
admin, every process of deploy/processes.toml, the portal included), supervised in a background thread
exactly as the launcher does; shared by the end-to-end and the browser tests (one start per package).

The handles here are for injecting faults (kill or restart a process, stop or start a server) and for
reading the SMTP sink. Everything started is stopped at the end and checked to be gone.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from devstack.run import Launcher
from devstack.servers import ENV_VARS, Stack
from services.common.contracts import CONTRACT
from tests.conftest import TEST_ROOT
from tests.e2e.client import Api
from tests.support.workers import wait_for

SERVICES = ("identity", "plans", "documents", "finance", "notifications")
SERVER_URLS = {var for server_vars in ENV_VARS.values() for var in server_vars} | {"POSTGRES_URL"}


@dataclass
class Platform:
    """A running platform and the handles a fault test needs."""

    launcher: Launcher
    finance_db: Stack | None  # finance's own PostgreSQL, so one service's database can restart alone
    env: dict[str, str]
    urls: dict[str, str]
    root: Path
    admin_email: str
    admin_password: str
    api: Api = field(init=False)

    def __post_init__(self) -> None:
        self.api = Api(self.urls, self.admin_email, self.admin_password)

    @property
    def sink(self) -> Path:
        """Where the SMTP sink saves every mail it accepts (one .eml file each)."""
        return Path(self.env["SMTP_SINK_DIR"])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal a process's whole group (the main process and its children); the supervisor restarts it.
        Returns the pid that was killed."""
        with self.launcher.lock:
            child = self.launcher.child(name)
            assert child.proc is not None and child.proc.poll() is None, f"{name} is not running"
            pid = child.proc.pid
            os.killpg(pid, sig)
            child.proc.wait(10)  # reaped here, so the supervisor sees it exit at its next round
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60.0) -> None:
        """Wait until the supervisor has started `name` again and it serves (an API) or consumes (a worker)."""

        def replaced() -> bool:
            with self.launcher.lock:
                proc = self.launcher.child(name).proc
                return proc is not None and proc.pid != old_pid and proc.poll() is None

        wait_for(replaced, timeout=timeout, message=f"the supervisor to restart {name}")
        self.wait_serving([name], timeout=timeout)

    def restart(self, names: list[str], env: dict[str, str] | None = None, timeout: float = 90.0) -> None:
        """Stop and start processes (with `env` added to theirs), then wait until they serve again."""
        self.launcher.restart(names, env)
        self.wait_serving(names, timeout=timeout)

    def wait_serving(self, names: list[str], timeout: float = 60.0) -> None:
        """Each is running: an API answers /readyz, a worker's latest start has logged `ready.` (consuming)."""
        for name in names:
            if name.endswith(("-api", "-web")):
                url = self.urls[name.rsplit("-", 1)[0]]
                wait_for(lambda u=url: _ready(u), timeout=timeout, message=f"{name} ready")
            else:
                wait_for(lambda n=name: self._worker_ready(n), timeout=timeout, message=f"{name} consuming")

    def _worker_ready(self, name: str) -> bool:
        with self.launcher.lock:
            child = self.launcher.child(name)
            if child.proc is None or child.proc.poll() is not None:
                return False
            with open(child.log, "rb") as fh:
                fh.seek(child.log_offset)
                return b" ready." in fh.read()

    def broker_drained(self) -> bool:
        """No message waits in a service's queue or is held unacknowledged by a worker (a retry's countdown
        included): nothing more can be delivered, or delivered again, until something new is sent."""
        import redis

        r = redis.Redis.from_url(self.env["REDIS_URL"], socket_timeout=5)
        try:
            queued = sum(int(r.llen(q)) for q in CONTRACT.all_queues)  # the long lanes too
            return queued == 0 and int(r.hlen("unacked")) == 0
        finally:
            r.close()

    def stop_server(self, name: str) -> None:
        """Stop a bundled server (postgres, redis, s3, smtp), keeping its data and port."""
        self.launcher.stack.stop_server(name)

    def crash_server(self, name: str) -> None:
        """SIGKILL a bundled server's process group (a crash, no graceful stop), held down (the supervisor would
        bring it back at once) until start_server."""
        self.launcher.stack.kill_server(name)

    def start_server(self, name: str) -> None:
        self.launcher.stack.start_server(name)

    def log_text(self, name: str) -> str:
        return self.launcher.child(name).log.read_text(errors="replace")


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _started_by(launcher: Launcher, *stacks: Stack | None) -> list[psutil.Process]:
    """Every process of the platform now: the launcher's children, the servers, and all their descendants."""
    with launcher.lock:
        pids = [c.proc.pid for c in launcher.children if c.proc is not None and c.proc.poll() is None]
    for stack in (launcher.stack, *stacks):
        if stack is not None:
            pids += list(stack.pids().values())
    found: list[psutil.Process] = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            found += [proc, *proc.children(recursive=True)]
        except psutil.Error:
            pass
    return found


@contextmanager
def run_platform(name: str, extra_env: dict[str, str], *, own_finance_db: bool = False) -> Iterator[Platform]:
    """Every server, job and process of `make run`, on a root of this test run's own (.var/test/<name>-<pid>);
    `own_finance_db` gives finance its own PostgreSQL (so a fault test can restart it alone)."""
    root = TEST_ROOT / f"{name}-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    password = secrets.token_urlsafe(18)
    # bundled servers always: a server URL in the developer's environment must not point the faults elsewhere
    env = {k: v for k, v in os.environ.items() if k not in SERVER_URLS and not k.endswith("_DATABASE_URL")}
    env.update(extra_env, IDENTITY_ADMIN_PASSWORD=password)
    finance_db = Stack(root / "finance-postgres", want=("postgres",), env={}, fast=True) if own_finance_db else None
    launcher = Launcher(root, env, fast=True)
    done = threading.Event()
    supervisor = threading.Thread(target=launcher.supervise_until, args=(done, 0.5), name=f"{name}-supervisor")
    started = time.monotonic()
    running: Platform | None = None
    try:
        if finance_db is not None:
            with ThreadPoolExecutor(max_workers=1) as pool:  # finance's server and the others start side by side
                finance_started = pool.submit(finance_db.start)
                launcher.stack.start()
                finance_started.result()
            # a database URL in the environment wins over the bundled server: finance's lives on its own one
            env["FINANCE_DATABASE_URL"] = finance_db.create_database("finance")
        full_env = launcher.start()
        supervisor.start()
        print(f"\n{name} platform up in {time.monotonic() - started:.0f} s (logs: {root / 'logs'})")
        running = Platform(
            launcher, finance_db, full_env, dict(launcher.urls), root, extra_env["IDENTITY_ADMIN_EMAIL"], password
        )
        yield running
    finally:
        if running is not None:
            running.api.http.close()  # no keep-alive connection holds gunicorn's graceful stop
        done.set()
        if supervisor.is_alive():
            supervisor.join(10)
        ours = _started_by(launcher, finance_db)
        if "s3" in launcher.stack.pids():
            # its data goes with the root; weed's graceful stop can take 10 s more after a restart
            os.killpg(launcher.stack.pids()["s3"], signal.SIGKILL)
        launcher.stop()
        if finance_db is not None:
            finance_db.stop()
        logs = TEST_ROOT / "logs" / f"{name}-{os.getpid()}"
        shutil.rmtree(logs, ignore_errors=True)
        if (root / "logs").exists():
            shutil.copytree(root / "logs", logs)
        for server_log in [*root.glob("servers/*.log"), *root.glob("finance-postgres/*.log")]:
            logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(server_log, logs / f"{server_log.parent.name}-{server_log.name}")
        shutil.rmtree(root, ignore_errors=True)
        left = [p for p in ours if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert left == [], f"processes left running after the platform stopped: {left}"
