"""Start and stop bundled local servers (postgres, redis, S3, an SMTP sink) for runs and tests.

Every server listens on 127.0.0.1 on a free port picked at start, keeps all its data under one
root directory, runs in its own process group and dies with the process that started it.
A URL already present in the environment means "use that external server" and always wins.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import secrets
import string
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from ._base import BundledServer, Context
from ._bundled import SERVERS
from ._proc import PortBook, ServerStartError, kill_group, write_atomic

__all__ = ["ALL_SERVERS", "ENV_VARS", "Revival", "ServerStartError", "Stack"]

ALL_SERVERS = ("postgres", "redis", "s3", "smtp")

# The variable that, when set, means "external server"; then the listed ones are passed through.
_EXTERNAL_MARKER = {
    "postgres": "POSTGRES_URL",
    "redis": "REDIS_URL",
    "s3": "S3_ENDPOINT_URL",
    "smtp": "SMTP_HOST",
}
ENV_VARS: dict[str, tuple[str, ...]] = {
    "postgres": ("POSTGRES_URL",),
    "redis": ("REDIS_URL",),
    "s3": ("S3_ENDPOINT_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY"),
    "smtp": ("SMTP_HOST", "SMTP_PORT", "SMTP_SINK_DIR"),
}


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _load_secrets(path: Path) -> dict[str, str]:
    """Credentials for the bundled servers, generated once per root and reused on every restart."""
    try:
        data: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    wanted = {
        "postgres_password": (string.ascii_letters + string.digits, 32),
        "s3_access_key": (string.ascii_uppercase + string.digits, 20),
        "s3_secret_key": (string.ascii_letters + string.digits, 40),
    }
    missing = {key: _random(*spec) for key, spec in wanted.items() if not data.get(key)}
    if missing:
        data.update(missing)
        write_atomic(path, json.dumps(data, indent=1).encode(), mode=0o600)
    return data


@dataclass(frozen=True)
class Revival:
    """A bundled server that died and what starting it again did: `error` is None when it serves again."""

    name: str
    exit_code: int | None
    port: int
    log: Path
    error: str | None = None
    retry_in: float = 0.0


class Stack:
    """A set of local servers under `root`.

    `want` names the servers (postgres, redis, s3, smtp). `env` is where external URLs are looked
    up (default: os.environ); pass `{}` to always use bundled servers. `fast=True` trades
    durability for speed (postgres fsync off) and is meant for tests only.
    """

    def __init__(
        self,
        root: Path | str,
        want: Iterable[str] = ALL_SERVERS,
        env: Mapping[str, str] | None = None,
        *,
        fast: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        self.want = tuple(dict.fromkeys(want))
        unknown = set(self.want) - set(ALL_SERVERS)
        if unknown:
            raise ValueError(f"unknown servers {sorted(unknown)}; choose from {ALL_SERVERS}")
        source = os.environ if env is None else env
        self.external: dict[str, dict[str, str]] = {
            name: {k: source[k] for k in ENV_VARS[name] if source.get(k)}
            for name in self.want
            if source.get(_EXTERNAL_MARKER[name])
        }
        if "smtp" in self.external:
            self.external["smtp"].setdefault("SMTP_PORT", "25")
        self.fast = fast
        self.start_timeout = start_timeout
        self._servers: dict[str, BundledServer] = {}
        self._ctx: Context | None = None
        self._lock = threading.RLock()
        self._atexit_armed = False
        self._root_lock: int | None = None
        # servers stopped on purpose (stop_server, stop): revive() leaves them alone
        self._stopped: set[str] = set()
        self._revive_after: dict[str, tuple[float, int]] = {}  # name -> (not before, failed attempts)

    # ----------------------------------------------------------------- public API

    def start(self) -> dict[str, str]:
        """Start every wanted bundled server that is not running; return the env vars to export."""
        with self._lock:
            bundled = [name for name in self.want if name not in self.external]
            if bundled:
                self._setup(bundled)
                self._arm_atexit()
                self._stopped.difference_update(bundled)
                try:
                    self._start_many([self._servers[name] for name in bundled])
                except BaseException:
                    self.stop()
                    raise
            return self.env()

    def stop(self) -> None:
        """Stop everything this stack started and wait for it to exit. Data is kept."""
        with self._lock:
            self._stopped.update(self._servers)
            atexit.unregister(self.stop)
            self._atexit_armed = False
            if self._ctx is not None:
                self._ctx.cancel.set()
            servers = list(self._servers.values())
            try:
                for server in servers:  # signal all first so they shut down in parallel
                    server.begin_stop()
                for server in servers:
                    server.finish_stop()
            except KeyboardInterrupt:
                # A second Ctrl-C while waiting: do not leave anything behind, just be quicker.
                for server in servers:
                    if server.proc is not None:
                        kill_group(server.proc.pid)
                for server in servers:
                    server.finish_stop()
                raise
            if self._ctx is not None:
                self._ctx.cancel.clear()
            if self._root_lock is not None:
                os.close(self._root_lock)
                self._root_lock = None

    def stop_server(self, name: str) -> None:
        """Stop one bundled server, keeping its data and its port for start_server()."""
        with self._lock:
            server = self._server(name)
            self._stopped.add(name)
            server.begin_stop()
            server.finish_stop()

    def kill_server(self, name: str) -> None:
        """SIGKILL one bundled server's process group (a crash, no graceful stop) and hold it stopped, keeping its
        data and port, until start_server(); revive() does not bring it back meanwhile."""
        with self._lock:
            server = self._server(name)
            self._stopped.add(name)
            if server.proc is not None:
                kill_group(server.proc.pid)
            server.finish_stop()

    def start_server(self, name: str) -> None:
        """Start one bundled server again, on the same port and with the same data."""
        with self._lock:
            server = self._server(name)
            self._take_root_lock()
            self._arm_atexit()
            server.start(time.monotonic() + self.start_timeout)
            self._stopped.discard(name)
            self._revive_after.pop(name, None)

    def revive(self) -> list[Revival]:
        """Start again, on its port and with its data, each bundled server whose process died without being
        stopped (killed, crashed); a start that fails is tried again later, at growing intervals."""
        done: list[Revival] = []
        with self._lock:
            for name, server in self._servers.items():
                if name in self._stopped or server.running:
                    continue
                not_before, failures = self._revive_after.get(name, (0.0, 0))
                if time.monotonic() < not_before:
                    continue
                code = server.proc.returncode if server.proc is not None else None
                server.finish_stop()  # reaped; the pid file goes
                try:
                    server.start(time.monotonic() + self.start_timeout)
                except Exception as exc:  # the next round tries again
                    wait = min(30.0, 2.0**failures)
                    self._revive_after[name] = (time.monotonic() + wait, failures + 1)
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    done.append(Revival(name, code, server.public_port(), server.log_path, first, wait))
                    continue
                self._revive_after.pop(name, None)
                done.append(Revival(name, code, server.public_port(), server.log_path))
        return done

    def env(self) -> dict[str, str]:
        """The env vars of all wanted servers, bundled ones that were started and external ones."""
        out: dict[str, str] = {}
        for name in self.want:
            if name in self.external:
                out.update(self.external[name])
            elif name in self._servers:
                out.update(self._servers[name].env())
        return out

    def pids(self) -> dict[str, int]:
        """Process ids of the bundled servers that are running now."""
        return {
            name: server.proc.pid
            for name, server in self._servers.items()
            if server.proc is not None and server.running
        }

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` if missing; return the URL of that database (same credentials)."""
        import psycopg
        from psycopg import errors, sql

        admin_url = self.env().get("POSTGRES_URL")
        if not admin_url:
            raise RuntimeError("postgres is neither started nor given as POSTGRES_URL")
        parts = urlsplit(admin_url)
        # Accept SQLAlchemy style URLs (postgresql+psycopg://) but hand libpq a plain one.
        plain = urlunsplit(parts._replace(scheme="postgresql"))
        with psycopg.connect(plain, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except errors.DuplicateDatabase:
                    pass  # created concurrently
        return urlunsplit(parts._replace(path="/" + name))

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- internals

    def _setup(self, bundled: list[str]) -> None:
        if self._ctx is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._ctx = Context(
                root=self.root,
                ports=PortBook(self.root / "ports.json"),
                secrets=_load_secrets(self.root / "secrets.json"),
                fast=self.fast,
            )
        self._take_root_lock()
        for name in bundled:
            if name not in self._servers:
                self._servers[name] = SERVERS[name](self._ctx)

    def _take_root_lock(self) -> None:
        """One live stack per root. The lock dies with its process, so a root whose lock is free
        but which still has server processes was left by a crash, and those are fair to kill."""
        if self._root_lock is not None:
            return
        fd = os.open(self.root / "devstack.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RuntimeError(f"{self.root} is in use by another running devstack (pid {owner})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._root_lock = fd

    def _arm_atexit(self) -> None:
        # Also covers an uncaught KeyboardInterrupt in the caller: the interpreter exits normally.
        if not self._atexit_armed:
            atexit.register(self.stop)
            self._atexit_armed = True

    def _server(self, name: str) -> BundledServer:
        if name in self.external:
            raise ValueError(f"{name} is external ({_EXTERNAL_MARKER[name]} is set); nothing to control")
        if name not in self._servers:
            raise ValueError(f"{name} is not a server of this stack (not wanted or not started yet)")
        return self._servers[name]

    def _start_many(self, servers: list[BundledServer]) -> None:
        todo = [s for s in servers if not s.running]
        if not todo:
            return
        deadline = time.monotonic() + self.start_timeout
        assert self._ctx is not None
        self._ctx.cancel.clear()
        pool = ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="devstack-start")
        try:
            futures = [pool.submit(s.start, deadline) for s in todo]
            errors = [f.exception() for f in futures]
        except BaseException:  # Ctrl-C while waiting: make the workers give up, then clean up
            self._ctx.cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        failed = [e for e in errors if e is not None]
        if failed:
            if len(failed) == 1:
                raise failed[0]
            raise ServerStartError("\n\n".join(str(e) for e in failed)) from failed[0]
