"""Process plumbing shared by the bundled servers: spawning, stopping, pid files, ports, logs."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import psutil

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class ServerStartError(RuntimeError):
    """A bundled server did not come up; the message carries the tail of its log."""


# --------------------------------------------------------------------------- spawning


def _child_setup(death_signal: int, parent_pid: int) -> Callable[[], None]:
    def setup() -> None:
        # Runs in the child after fork and after any setuid (CPython applies user/group before
        # preexec_fn), which matters because a credential change clears PDEATHSIG again.
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, int(death_signal), 0, 0, 0)
        if os.getppid() != parent_pid:  # parent died between fork() and prctl()
            os._exit(1)

    return setup


class _Spawner:
    """Forks every long-lived child from one daemon thread that lives as long as the process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Forking
    from a worker thread (or a caller's short-lived thread) would kill the child when it ends.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Sequence[str], dict[str, Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            # is_alive() is also False in a forked child of the caller, which then gets its own.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="devstack-spawner", daemon=True)
                self._thread.start()
        future: Future[subprocess.Popen[bytes]] = Future()
        self._queue.put((args, kwargs, future))
        return future.result()

    def _run(self) -> None:
        while True:
            args, kwargs, future = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(subprocess.Popen(args, **kwargs))
            except BaseException as exc:  # handed back to the caller's thread
                future.set_exception(exc)


_spawner = _Spawner()


def spawn(
    args: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    death_signal: int = signal.SIGTERM,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session/process group with stdout+stderr appended to `log`."""
    extra: dict[str, Any] = {}
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        extra = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    with open(log, "ab") as out:
        return _spawner.popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            preexec_fn=_child_setup(death_signal, os.getpid()),
            **extra,
        )


# --------------------------------------------------------------------------- stopping


def send_signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    for proc in psutil.process_iter(["status"]):
        # a process may end between the listing and getpgid: then it is not in the group any more
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
    return False


def wait_or_kill(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for an already signalled child, SIGKILL its whole group after `timeout`."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    # Also reaps helpers the server left behind in its group (postgres backends, redis rewrites).
    kill_group(proc.pid)
    proc.wait()
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def terminate_pid(pid: int, sig: int, timeout: float) -> None:
    """Like wait_or_kill, for a process that is not our child (a leftover of a crashed run)."""
    send_signal(pid, sig)
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).wait(timeout)
    kill_group(pid)
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


# --------------------------------------------------------------------------- pid files


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def is_ours(pid: int, root: Path, matches: Callable[[psutil.Process], bool]) -> bool:
    """True if `pid` runs a server of ours that lives under `root` (cwd or command line)."""
    try:
        proc = psutil.Process(pid)
        if not matches(proc):
            return False
        with contextlib.suppress(psutil.Error, OSError):
            if Path(proc.cwd()).is_relative_to(root):
                return True
        return any(str(root) in arg for arg in proc.cmdline())
    except psutil.Error:
        return False


# --------------------------------------------------------------------------- ports

# port -> the ports file (i.e. the root) it was handed out for in this process
_handed_out: dict[int, Path] = {}
_ports_lock = threading.Lock()


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR like the servers themselves, so a TIME_WAIT leftover does not count as busy.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortBook:
    """Loopback ports per key, persisted in `path` so a later run on the same root prefers them.

    `offset` asks for a second free port at port+offset (seaweedfs derives gRPC ports that way).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ports: dict[str, int] = {}
        try:
            self._saved: dict[str, int] = {k: int(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            self._saved = {}

    def get(self, key: str, offset: int | None = None) -> int:
        with _ports_lock:
            if key in self._ports:
                return self._ports[key]
            port = self._saved.get(key)
            if port is None or not self._usable(port, offset):
                for _ in range(200):
                    port = _ephemeral_port()
                    if self._usable(port, offset):
                        break
                else:
                    raise RuntimeError(f"no free loopback port found for {key}")
            # Never handed to another root in this process, even after its stack stopped.
            for p in (port, port + offset) if offset else (port,):
                _handed_out[p] = self.path
            self._ports[key] = port
            self._saved[key] = port
            write_atomic(self.path, json.dumps(self._saved, indent=1, sort_keys=True).encode())
            return port

    def _usable(self, port: int, offset: int | None) -> bool:
        wanted: Iterable[int] = (port,) if not offset else (port, port + offset)
        return all(p <= 65535 and _handed_out.get(p, self.path) == self.path and port_is_free(p) for p in wanted)


def listening_ports(pid: int) -> set[int]:
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN}


# --------------------------------------------------------------------------- logs


def log_tail(path: Path, offset: int = 0, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"
