"""What every benchmark shares: results and targets, the run context, bounded load, RSS sampling,
subprocesses that die with us, and the table."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
BENCH_VAR = REPO / ".var" / "bench"
LOOPBACK = "127.0.0.1"

# Platform settings a stray shell variable could point elsewhere (an external server, other
# credentials): never inherited by the processes a benchmark starts, nor read in-process.
_PLATFORM_PREFIXES = (
    "IDENTITY_",
    "PLANS_",
    "DOCUMENTS_",
    "FINANCE_",
    "NOTIFICATIONS_",
    "PROBE_",
    "POSTGRES_",
    "REDIS_",
    "CELERY_",
    "S3_",
    "SMTP_",
    "JWT_",
    "JWKS_",
    "LOG_",
    "TASK_",
    "BROKER_",
    "OUTBOX_",
    "WEB_",
    "PROMETHEUS_",
    "TEST_",
    "FORWARDED_",
    "GUNICORN_",
)
_PLATFORM_NAMES = {"PORT", "HOST", "DATABASE_URL"}


def _is_platform_var(name: str) -> bool:
    return name in _PLATFORM_NAMES or name.startswith(_PLATFORM_PREFIXES)


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the table."""
    print(f"· {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Target:
    """A known goal: `ratio <= max_ratio`, `ratio >= min_ratio` (a throughput's share of its baseline),
    or `value <= max_value` (absolute, in the row's unit)."""

    max_ratio: float | None = None
    max_value: float | None = None
    min_ratio: float | None = None

    def text(self, unit: str) -> str:
        if self.max_ratio is not None:
            return f"≤ {self.max_ratio:g}×"
        if self.min_ratio is not None:
            return f"≥ {self.min_ratio:g}×"
        return f"≤ {self.max_value:g} {unit}"

    def met(self, value: float, ratio: float | None) -> bool | None:
        if self.max_ratio is not None:
            return None if ratio is None else ratio <= self.max_ratio
        if self.min_ratio is not None:
            return None if ratio is None else ratio >= self.min_ratio
        if self.max_value is not None:
            return value <= self.max_value
        return None


@dataclass
class Row:
    """One figure: its value, the baseline measured in the same run, and their ratio."""

    group: str
    metric: str
    value: float
    unit: str
    baseline: float | None
    baseline_name: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        return self.target.met(self.value, self.ratio) if self.target else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "metric": self.metric,
            "value": round(self.value, 4),
            "unit": self.unit,
            "baseline": None if self.baseline is None else round(self.baseline, 4),
            "baseline_name": self.baseline_name,
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "target": self.target.text(self.unit) if self.target else None,
            "met": self.met,
            "note": self.note,
        }


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    servers: tuple[str, ...]
    run: Callable[[Context], list[Row]]


# ---------------------------------------------------------------------------------------- context


@dataclass
class Context:
    """What a benchmark gets: the servers' env, where to put files, how long it may take."""

    quick: bool
    root: Path  # this run's scratch directory (removed at the end)
    logs: Path  # subprocess logs, kept after the run
    servers: dict[str, str]  # POSTGRES_URL, REDIS_URL, ... of the running stack
    create_database: Callable[[str], str]
    deadline: float  # time.monotonic() by which this benchmark must be done
    notes: list[str] = field(default_factory=list)

    def scale(self, normal: int, quick: int) -> int:
        return quick if self.quick else normal

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def phase_deadline(self, seconds: float) -> float:
        """A deadline `seconds` from now, never past the benchmark's own."""
        return min(time.monotonic() + seconds, self.deadline)

    def redis_url(self, db: int) -> str:
        return self.servers["REDIS_URL"].rsplit("/", 1)[0] + f"/{db}"

    def child_env(self, **values: str) -> dict[str, str]:
        """The environment for a subprocess: ours without platform settings, plus `values`."""
        env = {k: v for k, v in os.environ.items() if not _is_platform_var(k)}
        env.update(BENCH_SECRETS)
        env.update(values)
        return env


# secrets services require that no benchmark depends on: made once per run
BENCH_SECRETS = {"ACCOUNT_LINK_SECRET": secrets.token_urlsafe(32)}


@contextlib.contextmanager
def scrubbed_environ(**values: str) -> Iterator[None]:
    """In-process settings loaders read os.environ: show them only `values` for a moment."""
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if _is_platform_var(k)]:
            del os.environ[key]
        os.environ.update(BENCH_SECRETS)
        os.environ.update(values)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until `predicate()` is truthy (exceptions count as not yet); bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last!r})" if last else "")
            )
        time.sleep(interval)


# ---------------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class LoadResult:
    """Latencies (seconds) of the successful requests of a phase, and how it went."""

    name: str
    latencies: list[float]
    errors: int
    wall: float
    planned: int
    first_error: str = ""

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def cut_short(self) -> bool:
        return self.done + self.errors < self.planned

    @property
    def throughput(self) -> float:
        return self.done / self.wall if self.wall > 0 else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def pooled(self, other: LoadResult, name: str) -> LoadResult:
        """Both phases' samples as one (throughput over both walls)."""
        return LoadResult(
            name,
            self.latencies + other.latencies,
            self.errors + other.errors,
            self.wall + other.wall,
            self.planned + other.planned,
        )

    def summary(self) -> str:
        text = (
            f"{self.name}: {self.done} ok, {self.errors} errors in {self.wall:.1f}s, "
            f"p50 {self.p(50) * 1000:.1f} ms, p95 {self.p(95) * 1000:.1f} ms, {self.throughput:.0f}/s"
        )
        if self.cut_short:
            text += f" (stopped at the time limit, {self.planned} planned)"
        return text


Request = Callable[[requests.Session, int, int], requests.Response]  # (session, client, i)


def closed_loop(
    name: str,
    request: Request,
    *,
    clients: int,
    per_client: int,
    warmup: int,
    time_limit: float,
    setup: Callable[[requests.Session, int], None] | None = None,
    ok: Callable[[requests.Response], bool] | None = None,
) -> LoadResult:
    """`clients` threads, each with its own keep-alive session, send `per_client` requests one after
    another (after `warmup` unrecorded ones); all start together; stop early at `time_limit` seconds."""
    ok = ok or (lambda r: r.status_code == 200)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    first_error: list[str] = []
    failures: list[BaseException] = []
    bounds: dict[str, float] = {}

    def go() -> None:  # runs once, when every client is ready, before any is released
        bounds["start"] = time.perf_counter()
        bounds["stop_at"] = time.monotonic() + time_limit

    ready = threading.Barrier(clients, action=go, timeout=180)

    def client(c: int) -> None:
        with requests.Session() as session:
            try:
                if setup:
                    setup(session, c)
                for i in range(warmup):
                    request(session, c, -1 - i)
            except BaseException as exc:
                failures.append(exc)
                ready.abort()
                return
            try:
                ready.wait()
            except threading.BrokenBarrierError:
                return  # another client failed (or warming up took far too long)
            stop_at = bounds["stop_at"]
            mine = latencies[c]
            for i in range(per_client):
                if time.monotonic() > stop_at:
                    break
                t0 = time.perf_counter()
                resp: requests.Response | None = None
                try:
                    resp = request(session, c, i)
                    good = ok(resp)
                except requests.RequestException as exc:
                    good = False
                    if not first_error:
                        first_error.append(repr(exc))
                elapsed = time.perf_counter() - t0
                if good:
                    mine.append(elapsed)
                else:
                    errors[c] += 1
                    if resp is not None and not first_error:
                        first_error.append(f"{resp.status_code} {resp.text[:200]}")
            bounds[f"end{c}"] = time.perf_counter()

    threads = [
        threading.Thread(target=client, args=(c,), name=f"bench-{name}-{c}", daemon=True) for c in range(clients)
    ]
    for t in threads:
        t.start()
    hard_stop = time.monotonic() + 180 + time_limit + 60
    for t in threads:
        # every request has its own timeout, so a thread ends soon after the limit
        t.join(max(0.0, hard_stop - time.monotonic()))
    if failures or "start" not in bounds:
        if not failures:
            raise RuntimeError(f"{name}: the clients did not get ready in time")
        raise RuntimeError(f"{name}: a client failed while warming up: {failures[0]!r}") from failures[0]
    if any(t.is_alive() for t in threads):
        raise RuntimeError(f"{name}: clients still busy long after the time limit")
    ends = [v for k, v in bounds.items() if k.startswith("end")]
    wall = (max(ends) if ends else time.perf_counter()) - bounds.get("start", time.perf_counter())
    return LoadResult(
        name,
        [x for per in latencies for x in per],
        sum(errors),
        wall,
        clients * per_client,
        first_error[0] if first_error else "",
    )


# ---------------------------------------------------------------------------------------- processes


class RssSampler:
    """Samples the resident memory of a process tree every `interval` seconds, in a thread,
    keeping each process's peak; bounded by `max_seconds` even if never stopped."""

    def __init__(self, root_pid: int, interval: float = 0.1, max_seconds: float = 600.0) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.max_seconds = max_seconds
        self.peaks: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def snapshot(self) -> dict[int, int]:
        """RSS in bytes of each process of the tree now."""
        out: dict[int, int] = {}
        try:
            root = psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return out
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                out[proc.pid] = proc.memory_info().rss
                if proc.pid not in self.names:
                    self.names[proc.pid] = " ".join(proc.cmdline()[:6])[:80]
        return out

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        end = time.monotonic() + self.max_seconds
        while time.monotonic() < end:
            snap = self.snapshot()
            for pid, rss in snap.items():
                self.peaks[pid] = max(rss, self.peaks.get(pid, 0))
            self.peak_total = max(self.peak_total, sum(snap.values()))
            if self._stop.wait(self.interval):
                return

    @property
    def peak_process(self) -> tuple[int, int]:
        """(pid, peak RSS in bytes) of the process that grew largest."""
        if not self.peaks:
            return 0, 0
        pid = max(self.peaks, key=lambda p: self.peaks[p])
        return pid, self.peaks[pid]


class Service:
    """A subprocess in its own process group that dies with this one (devstack's spawn), logging
    to a file; stopped with SIGTERM, then SIGKILL to its whole group after `stop_timeout`."""

    def __init__(
        self, name: str, command: list[str], env: Mapping[str, str], log_path: Path, stop_timeout: float = 20.0
    ) -> None:
        self.name, self.command, self.env, self.log_path = name, command, dict(env), log_path
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._offset = 0

    def start(self) -> Service:
        from devstack._proc import spawn

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.proc = spawn(self.command, log=self.log_path, cwd=REPO, env=self.env)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as fh:
            fh.seek(self._offset)
            return fh.read().decode(errors="replace")

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited; the end of {self.log_path}:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        from devstack._proc import kill_group, send_signal, wait_or_kill

        if self.proc is None:
            return
        if self.proc.poll() is None:
            send_signal(self.proc.pid, signal.SIGTERM)
        try:
            wait_or_kill(self.proc, self.stop_timeout)  # also kills what is left of its group
        except KeyboardInterrupt:
            kill_group(self.proc.pid)
            raise


MB = 1024 * 1024
COUNT = "processes"  # a row's unit for whole numbers of processes
PROCESS_RSS_MB = 300.0  # DESIGN: no process above 300 MB


class MemoryWatch:
    """Peak resident memory of several running Services (each a process tree), sampled together from
    `start()` to `stop()`; `rows()` makes the memory figures of a benchmark from it.

    Per role (a Service's name): the largest single process at its peak against the largest at idle (when
    `start()` was called), with the 300 MB target; then how many processes of all exceeded it.
    `per_process()` lists every process's peak, for a note."""

    def __init__(self, services: Sequence[Service], interval: float = 0.2, max_seconds: float = 600.0) -> None:
        self.services = list(services)
        self.samplers = {s.name: RssSampler(s.pid, interval=interval, max_seconds=max_seconds) for s in services}
        self.idle: dict[str, dict[int, int]] = {}

    def start(self) -> MemoryWatch:
        for name, sampler in self.samplers.items():
            self.idle[name] = sampler.snapshot()
            sampler.start()
        return self

    def stop(self) -> None:
        for sampler in self.samplers.values():
            sampler.stop()

    def per_process(self) -> dict[str, list[float]]:
        """Each role's processes' peaks in MB, largest first."""
        return {
            name: sorted((rss / MB for rss in sampler.peaks.values()), reverse=True)
            for name, sampler in self.samplers.items()
        }

    def note(self) -> str:
        parts = [f"{name} {'/'.join(f'{mb:.0f}' for mb in peaks)}" for name, peaks in self.per_process().items()]
        return "peak RSS of every process, MB (largest first): " + "; ".join(parts)

    def rows(self, group: str, limit_mb: float = PROCESS_RSS_MB) -> list[Row]:
        target = Target(max_value=limit_mb)
        out: list[Row] = []
        for name, sampler in self.samplers.items():
            if not sampler.peaks:
                continue
            idle = max(self.idle.get(name, {}).values(), default=0) / MB
            out.append(
                Row(
                    group,
                    f"{name}: largest of {len(sampler.peaks)} processes, peak RSS",
                    sampler.peak_process[1] / MB,
                    "MB",
                    idle or None,
                    "largest at idle",
                    target=target,
                )
            )
        peaks = [mb for each in self.per_process().values() for mb in each]
        if peaks:
            out.append(
                Row(
                    group,
                    f"processes above {limit_mb:g} MB (of {len(peaks)})",
                    float(sum(mb > limit_mb for mb in peaks)),
                    COUNT,
                    None,
                    target=Target(max_value=0),
                )
            )
        return out


class CpuMeter:
    """CPU seconds (user + system) that process trees used between two readings, by role: what a piece of work
    costs whatever else the machine does meanwhile. A process that ended counts once its parent has reaped it
    (a PostgreSQL backend whose connection closed, a gunicorn worker replaced)."""

    def __init__(self, roots: Mapping[str, int], alone: Sequence[str] = ()) -> None:
        self.roots = dict(roots)
        self.alone = set(alone)  # roles counted without their children (this process: the servers are its children)

    @staticmethod
    def tree_seconds(pid: int, children: bool = True) -> float:
        try:
            procs = [psutil.Process(pid)]
            if children:
                procs += procs[0].children(recursive=True)
        except psutil.Error:
            return 0.0
        total = 0.0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)
        return total

    def read(self) -> dict[str, float]:
        return {role: self.tree_seconds(pid, role not in self.alone) for role, pid in self.roots.items()}

    @staticmethod
    def spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
        return {role: max(0.0, after[role] - before.get(role, 0.0)) for role in after}


def listening_pid(url: str) -> int | None:
    """The process listening on the port of `url` (a bundled server of this run), if it can be found."""
    from urllib.parse import urlsplit

    port = urlsplit(url).port
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return int(conn.pid)
    except psutil.Error:
        return None
    return None


def run_command(command: list[str], env: Mapping[str, str], log_path: Path, timeout: float) -> None:
    """Run a one-off command to completion (bounded), its output appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        result = subprocess.run(
            command,
            cwd=REPO,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(command[1:4])}… failed ({result.returncode}); see {log_path}:\n{tail}")


# ---------------------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model or platform.processor(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "ms":
        text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
    elif unit == COUNT or abs(value) >= 100:
        text = f"{value:.0f}"
    else:
        text = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} {unit}".strip()


def table(rows: Sequence[Row]) -> str:
    """Rows under a heading per group; a row's note becomes a numbered footnote."""
    header = ("metric", "value", "baseline", "ratio", "target", "")
    body: list[tuple[str, ...] | str] = []
    footnotes: list[str] = []
    group = None
    for r in rows:
        if r.group != group:
            group = r.group
            body.append(group)
        metric = r.metric
        if r.note:
            footnotes.append(r.note)
            metric += f" [{len(footnotes)}]"
        verdict = "" if r.met is None else ("ok" if r.met else "MISSED")
        baseline = _fmt(r.baseline, r.unit) + (f"  {r.baseline_name}" if r.baseline_name else "")
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        target = r.target.text(r.unit) if r.target else ""
        body.append(("  " + metric, _fmt(r.value, r.unit), baseline, ratio, target, verdict))
    cells = [header, *(line for line in body if isinstance(line, tuple))]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    right = {1, 3}

    def render(line: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()

    out = [render(header), "  ".join("-" * w for w in widths)]
    for line in body:
        out.append(line if isinstance(line, str) else render(line))
    out.extend(f"[{n}] {text}" for n, text in enumerate(footnotes, 1))
    return "\n".join(out)
