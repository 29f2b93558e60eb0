"""What every bundled server shares: data/log/pid paths, start with readiness checks, stop."""

from __future__ import annotations

import abc
import contextlib
import datetime
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import psutil

from ._proc import (
    PortBook,
    ServerStartError,
    is_ours,
    listening_ports,
    log_tail,
    read_pidfile,
    send_signal,
    spawn,
    terminate_pid,
    wait_or_kill,
    write_atomic,
)

LOOPBACK = "127.0.0.1"
_LOG_ROTATE_BYTES = 20 * 1024 * 1024


@dataclass
class Context:
    root: Path
    ports: PortBook
    secrets: Mapping[str, str]
    fast: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)


class BundledServer(abc.ABC):
    name: ClassVar[str]
    stop_signal: ClassVar[int] = signal.SIGTERM
    death_signal: ClassVar[int] = signal.SIGTERM
    stop_timeout: ClassVar[float] = 15.0
    # Log lines that mean the start failed even though the process is still running.
    fatal_log_markers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.ctx.root / self.name

    @property
    def log_path(self) -> Path:
        return self.ctx.root / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.ctx.root / f"{self.name}.pid"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ----------------------------------------------------------------- per-server hooks

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @abc.abstractmethod
    def command(self) -> list[str]: ...

    @abc.abstractmethod
    def matches(self, proc: psutil.Process) -> bool:
        """Whether a (possibly stale) process is this kind of server."""

    @abc.abstractmethod
    def probe(self) -> None:
        """Raise unless the server answers a real request."""

    @abc.abstractmethod
    def env(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def public_port(self) -> int: ...

    def spawn_env(self) -> Mapping[str, str] | None:
        return None

    def run_as(self) -> str | None:
        return None

    def cleanup(self) -> None:
        """Called after the process is gone."""

    # ----------------------------------------------------------------- lifecycle

    def start(self, deadline: float) -> None:
        if self.running:
            return
        self._kill_stale()
        self.prepare()
        if self.ctx.cancel.is_set():
            raise ServerStartError(f"{self.name}: start cancelled")
        cmd = self.command()
        offset = self._log_header(f"starting: {shlex.join(cmd)}")
        self.proc = spawn(
            cmd,
            log=self.log_path,
            cwd=self.data_dir,
            death_signal=self.death_signal,
            env=self.spawn_env(),
            user=self.run_as(),
        )
        write_atomic(self.pid_path, f"{self.proc.pid}\n".encode())
        try:
            self._wait_ready(deadline, offset)
        except BaseException:
            self.begin_stop()
            self.finish_stop()
            raise

    def begin_stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            send_signal(self.proc.pid, self.stop_signal)

    def finish_stop(self) -> None:
        if self.proc is None:
            return
        wait_or_kill(self.proc, self.stop_timeout)
        self.proc = None
        self.pid_path.unlink(missing_ok=True)
        self.cleanup()

    def _kill_stale(self) -> None:
        pid = read_pidfile(self.pid_path)
        if pid is not None and pid != os.getpid() and is_ours(pid, self.ctx.root, self.matches):
            self._log_header(f"killing pid {pid} left over from an earlier run")
            terminate_pid(pid, self.stop_signal, self.stop_timeout)
        self.pid_path.unlink(missing_ok=True)

    def _log_header(self, text: str) -> int:
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        now = datetime.datetime.now().isoformat(timespec="seconds")
        with open(self.log_path, "ab") as fh:
            fh.write(f"\n=== devstack {now} {self.name}: {text}\n".encode())
            return fh.tell()

    def failure(self, what: str, offset: int = 0) -> ServerStartError:
        tail = log_tail(self.log_path, offset)
        return ServerStartError(f"{self.name} failed to start: {what}\n--- tail of {self.log_path} ---\n{tail}")

    def _wait_ready(self, deadline: float, offset: int) -> None:
        assert self.proc is not None
        last: BaseException | None = None
        while True:
            if self.ctx.cancel.is_set():
                raise ServerStartError(f"{self.name}: start cancelled")
            code = self.proc.poll()
            if code is not None:
                raise self.failure(f"process exited with code {code}", offset)
            if self.fatal_log_markers:
                text = log_tail(self.log_path, offset, lines=10_000)
                for marker in self.fatal_log_markers:
                    if marker in text:
                        raise self.failure(f"log says {marker!r}", offset)
            try:
                self.probe()
            except Exception as exc:
                last = exc
            else:
                port = self.public_port()
                if port in listening_ports(self.proc.pid):
                    return
                raise self.failure(f"something else answers on port {port}", offset)
            if time.monotonic() >= deadline:
                raise self.failure(f"not ready in time (last probe error: {last!r})", offset)
            time.sleep(0.05)
