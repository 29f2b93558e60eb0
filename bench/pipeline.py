"""Upload to verdict: expense documents through documents' API, finance's checks and back, against bare parts.

Ten clients (threads, one keep-alive session each) in a closed loop: each uploads a 100 KB expense receipt (a
PDF with a scanned page; different bytes every time, so no upload is a duplicate) with its metadata, waits
until finance's verdict is visible in documents' database, then uploads the next. A watcher thread reads
the in-flight documents' status from that database every few milliseconds, so waiting loads no API.
Every claim names its own student, category and month of an approved plan with an attestation on file,
so each is checked through all eight rules and accepted (bench/pipeline_world.py seeds that world).

Baseline, in the same run, same clients and concurrency: what the pipeline cannot do without, bare:
a `put_object` of the same bytes to the same S3 server, then two Celery round trips (send, a no-op worker
with two processes runs it, wait for its result) on the same broker, one for each hop the pipeline makes
(documents → finance, finance → documents). Pipeline and baseline alternate (ABBA) and are pooled.

CPU: the CPU time every process used (services, PostgreSQL, Redis, S3, and this one's clients) per document
and per bare operation (bench.core.CpuMeter): what each costs, which holds when other work shares the machine.
Where the time goes: each document's stages from the services' own records (outbox relay times, consumers'
processed-message times). Memory: every process of the APIs and workers, sampled throughout (MemoryWatch).
"""

from __future__ import annotations

import functools
import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from . import pipeline_stack, pipeline_world
from .core import (
    Benchmark,
    Context,
    CpuMeter,
    LoadResult,
    MemoryWatch,
    Row,
    Target,
    closed_loop,
    listening_pid,
    log,
    percentile,
)
from .pipeline_world import DOCUMENT_KB, Receipts

GROUP = "upload to verdict"
CLIENTS = 10
THROUGHPUT = Target(min_ratio=0.4)  # the issue: at least 40 % of the baseline's throughput
LATENCY_P95 = Target(max_value=1000.0)  # ms: p95 under 1 s with 10 concurrent clients
VERDICTS = ("accepted", "needs_fix", "rejected")
HOPS = 2  # Celery messages on the way: documents → finance, finance → documents
WATCH_INTERVAL = 0.005  # seconds between the watcher's reads of the in-flight documents' status
VERDICT_TIMEOUT = 60.0
CLIENT_ROLE = "bench clients (this process)"


@dataclass(frozen=True)
class Plan:
    rounds: int  # pipeline and baseline each run this many times, alternating (ABBA), pooled
    uploads: int  # per client per pipeline round
    baseline: int  # per client per baseline round
    warmup: int  # unrecorded uploads per client before the first round
    phase_seconds: float  # a round stops early at this limit


def plan(ctx: Context) -> Plan:
    if ctx.quick:
        return Plan(rounds=1, uploads=6, baseline=10, warmup=1, phase_seconds=20)
    return Plan(rounds=2, uploads=12, baseline=20, warmup=2, phase_seconds=30)


# ---------------------------------------------------------------------------------------- the watcher


class VerdictWatch:
    """One thread reading the status of the documents in flight from documents' database."""

    def __init__(self, dsn: str, interval: float = WATCH_INTERVAL) -> None:
        self.dsn, self.interval = dsn, interval
        self._pending: dict[str, threading.Event] = {}
        self.seen: dict[str, tuple[str, float]] = {}  # document id -> (verdict, time.time() seen)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-verdicts", daemon=True)

    def start(self) -> VerdictWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def wait(self, document_id: str, timeout: float) -> str | None:
        """The verdict once visible; None when it did not come in time."""
        event = threading.Event()
        with self._lock:
            if document_id in self.seen:
                return self.seen[document_id][0]
            self._pending[document_id] = event
        if not event.wait(timeout):
            with self._lock:
                self._pending.pop(document_id, None)
            return None
        return self.seen[document_id][0]

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                while not self._stop.is_set():
                    with self._lock:
                        ids = list(self._pending)
                    if ids:
                        rows = conn.execute(
                            "SELECT id::text, status FROM documents WHERE id = ANY(%s::uuid[]) AND status = ANY(%s)",
                            (ids, list(VERDICTS)),
                        ).fetchall()
                        at = time.time()
                        with self._lock:
                            for doc_id, status in rows:
                                self.seen[doc_id] = (status, at)
                                event = self._pending.pop(doc_id, None)
                                if event is not None:
                                    event.set()
                    self._stop.wait(self.interval)
        except BaseException as exc:  # the clients time out and report it
            self.error = exc


# ---------------------------------------------------------------------------------------- phases


@dataclass
class Upload:
    document_id: str
    started: float  # time.time()
    answered: float  # time.time() when the API answered 201
    seen: float  # time.time() when the watcher saw the verdict
    verdict: str


@dataclass
class Phases:
    ctx: Context
    stack: pipeline_stack.Stack
    world: pipeline_world.World
    receipts: Receipts
    watch: VerdictWatch
    uploads: list[Upload] = field(default_factory=list)
    _counters: list[int] = field(default_factory=lambda: [0] * CLIENTS)

    def upload(self, session: requests.Session, c: int, _i: int, record: bool = True) -> requests.Response:
        n = self._counters[c]
        self._counters[c] += 1
        data = self.receipts.fresh()
        started = time.time()
        resp = session.post(
            f"{self.stack.documents_url}/documents",
            headers=self.world.headers(),
            data=self.world.claim(c, n),
            files={"file": ("kvits.pdf", io.BytesIO(data), "application/pdf")},
            timeout=30,
        )
        answered = time.time()
        if resp.status_code != 201:
            return resp
        doc_id = str(resp.json()["id"])
        verdict = self.watch.wait(doc_id, VERDICT_TIMEOUT)
        if verdict is None:
            raise requests.Timeout(f"no verdict on {doc_id} in {VERDICT_TIMEOUT:.0f}s (watcher: {self.watch.error!r})")
        if record:  # warm-up uploads are not measured
            self.uploads.append(Upload(doc_id, started, answered, self.watch.seen[doc_id][1], verdict))
        return resp

    def baseline(self) -> tuple[Callable[[requests.Session, int], None], Any]:
        """(setup, request) of the bare path: each client with its own Celery app (results are per app)."""
        from minio import Minio

        from .echo_worker import TASK, make_app

        s = self.ctx.servers
        endpoint = s["S3_ENDPOINT_URL"].split("://", 1)[1]
        import urllib3

        minio = Minio(
            endpoint,
            access_key=s["S3_ACCESS_KEY"],
            secret_key=s["S3_SECRET_KEY"],
            secure=False,
            http_client=urllib3.PoolManager(maxsize=CLIENTS, timeout=urllib3.Timeout(connect=2, read=20)),
        )
        apps: dict[int, Any] = {}

        def setup(_session: requests.Session, c: int) -> None:
            apps[c] = make_app(self.stack.broker)

        def request(_session: requests.Session, c: int, _i: int) -> requests.Response:
            data = self.receipts.fresh()
            minio.put_object(
                pipeline_stack.BUCKET,
                f"bench-baseline/{time.time_ns()}-{c}",
                io.BytesIO(data),
                len(data),
                content_type="application/pdf",
            )
            for hop in range(HOPS):
                if apps[c].send_task(TASK, args=[hop], queue="bench-echo").get(timeout=30) != hop:
                    raise RuntimeError("the echo worker answered something else")
            done = requests.Response()
            done.status_code = 200
            return done

        self._baseline_apps = apps
        return setup, request

    def close(self) -> None:
        import gc

        gc.collect()  # results caught in reference cycles let go of the broker now, while it is still up
        for app in getattr(self, "_baseline_apps", {}).values():
            app.close()


def run(ctx: Context) -> list[Row]:
    p = plan(ctx)
    receipts = Receipts()
    per_client = p.warmup + p.rounds * p.uploads
    log(f"pipeline: starting identity, documents and finance as deployed (receipts of {receipts.size // 1024} KB)")
    t0 = time.monotonic()
    stack = pipeline_stack.start(ctx)
    log(f"pipeline: every process answers after {time.monotonic() - t0:.0f}s")
    memory = MemoryWatch(stack.services, max_seconds=max(ctx.remaining(), 10)).start()
    cpu = cpu_meter(ctx, stack)
    watch = VerdictWatch(stack.db["documents"]).start()
    phases: Phases | None = None
    results: dict[str, list[LoadResult]] = {"pipeline": [], "baseline": []}
    spent: dict[str, dict[str, float]] = {"pipeline": {}, "baseline": {}}
    try:
        world = pipeline_world.seed(stack, CLIENTS, per_client, receipts.make)
        log("pipeline: world seeded; warming up both paths")
        phases = Phases(ctx, stack, world, receipts, watch)
        setup, bare = phases.baseline()
        upload = phases.upload

        def phase(path: str, per_client: int, record: bool) -> LoadResult:
            before = cpu.read()
            if path == "pipeline":
                result = closed_loop(
                    "pipeline",
                    functools.partial(upload, record=record),
                    clients=CLIENTS,
                    per_client=per_client,
                    warmup=0,
                    time_limit=min(p.phase_seconds, max(ctx.remaining() - 3, 1)),
                    ok=lambda r: r.status_code == 201,
                )
            else:
                result = closed_loop(
                    "baseline",
                    bare,
                    clients=CLIENTS,
                    per_client=per_client,
                    warmup=0,
                    time_limit=min(p.phase_seconds, max(ctx.remaining() - 3, 1)),
                    setup=setup,
                )
            if record:
                for role, seconds in CpuMeter.spent(before, cpu.read()).items():
                    spent[path][role] = spent[path].get(role, 0.0) + seconds
            return result

        phase("baseline", 2, record=False)
        phase("pipeline", p.warmup, record=False)
        order = ["baseline", "pipeline"] * p.rounds
        for r in range(1, p.rounds, 2):  # ABBA: a steady drift of the machine cancels out
            order[2 * r], order[2 * r + 1] = order[2 * r + 1], order[2 * r]
        for path in order:
            stack.check_alive()
            if ctx.remaining() < 5:
                ctx.notes.append(f"skipped a {path} round: out of time")
                continue
            result = phase(path, p.uploads if path == "pipeline" else p.baseline, record=True)
            log(f"pipeline: {result.summary()}")
            if result.errors:
                ctx.notes.append(f"{path}: {result.errors} failed, first: {result.first_error}")
            if result.cut_short:
                ctx.notes.append(f"{path}: a round stopped at the time limit after {result.done} of {result.planned}")
            results[path].append(result)
        memory.stop()
        stages = breakdown(stack, phases.uploads)
    finally:
        memory.stop()
        watch.stop()
        if phases is not None:
            phases.close()
        stack.stop()
    ctx.notes.append(memory.note())
    out = rows(results, phases.uploads if phases else [], stages)
    out += cpu_rows(results, spent)
    return out + memory.rows(f"memory during upload to verdict ({len(stack.services)} roles)")


def cpu_meter(ctx: Context, stack: pipeline_stack.Stack) -> CpuMeter:
    """Every process either path uses: the services, the bundled servers, and this one (the clients)."""
    roots = {s.name: s.pid for s in stack.services}
    for role, key in (("postgres", "POSTGRES_URL"), ("redis", "REDIS_URL"), ("s3", "S3_ENDPOINT_URL")):
        pid = listening_pid(ctx.servers[key])
        if pid is None:
            ctx.notes.append(f"the {role} server's process was not found: its CPU is not counted")
        else:
            roots[role] = pid
    roots[CLIENT_ROLE] = os.getpid()
    return CpuMeter(roots, alone=[CLIENT_ROLE])


def cpu_rows(results: dict[str, list[LoadResult]], spent: dict[str, dict[str, float]]) -> list[Row]:
    """CPU per document against CPU per bare operation: the cost that holds on a busy machine; then where a
    document's CPU goes, by process (the bare operation's in a note)."""
    docs = sum(r.done for r in results["pipeline"])
    ops = sum(r.done for r in results["baseline"])
    if not docs or not ops:
        return []

    def per(path: str, count: int) -> list[tuple[str, float]]:
        ms = [(role, seconds / count * 1000) for role, seconds in spent[path].items()]
        return sorted((x for x in ms if x[1] >= 0.5), key=lambda x: -x[1])

    bare = ", ".join(f"{role} {ms:.1f}" for role, ms in per("baseline", ops))
    group = f"CPU per document, by process ({os.cpu_count()} cores)"
    doc_ms = sum(spent["pipeline"].values()) / docs * 1000
    op_ms = sum(spent["baseline"].values()) / ops * 1000
    note = (
        f"CPU of a bare op, ms: {bare}. Were both paths held back only by the cores, the throughput ratio would "
        f"be about {op_ms / doc_ms:.2f} (the bare op's CPU / the document's)"
    )
    out = [Row(group, "every process", doc_ms, "ms", op_ms, "per bare op", note=note)]
    out += [Row(group, role, ms, "ms", None) for role, ms in per("pipeline", docs)]
    return out


# ---------------------------------------------------------------------------------------- where the time goes


STAGES = (
    "POST /documents answered",
    "waiting in finance's queue",
    "finance runs the rules",
    "finance's verdict out (money, commit, relay), documents' queue",
    "documents records it, the client sees it",
)


def breakdown(stack: pipeline_stack.Stack, uploads: list[Upload]) -> dict[str, list[float]]:
    """Each measured upload's time (ms) in each stage: the clients' clocks, and what the services recorded on the
    same machine's clock (each consumer's start in its processed-messages table, each claim's check time)."""
    import psycopg

    ids = [u.document_id for u in uploads]
    if not ids:
        return {}

    def messages(service: str, task: str) -> dict[str, str]:
        """document id -> the id of the message of `task` its service's outbox sent about it."""
        with psycopg.connect(stack.db[service], autocommit=True) as conn:
            rows = conn.execute(
                "SELECT payload->>'document_id', id::text FROM outbox WHERE task_name = %s "
                "AND payload->>'document_id' = ANY(%s)",
                (task, ids),
            ).fetchall()
        return dict(rows)

    def started(service: str, message_ids: list[str]) -> dict[str, float]:
        """message id -> when the consumer began handling it."""
        with psycopg.connect(stack.db[service], autocommit=True) as conn:
            rows = conn.execute(
                "SELECT message_id, processed_at FROM processed_messages WHERE message_id = ANY(%s)", (message_ids,)
            ).fetchall()
        return {m: at.timestamp() for m, at in rows}

    check = messages("documents", "finance.check_expense_document")
    verdict = messages("finance", "documents.set_review_status")
    check_began = started("finance", list(check.values()))
    verdict_began = started("documents", list(verdict.values()))
    with psycopg.connect(stack.db["finance"], autocommit=True) as conn:
        checked = {
            d: at.timestamp()
            for d, at in conn.execute(
                "SELECT document_id::text, max(checked_at) FROM claims WHERE document_id = ANY(%s::uuid[]) "
                "GROUP BY document_id",
                (ids,),
            ).fetchall()
        }
    out: dict[str, list[float]] = {k: [] for k in STAGES}
    for u in uploads:
        d = u.document_id
        began, verdict_began_at = check_began.get(check.get(d, "")), verdict_began.get(verdict.get(d, ""))
        if began is None or verdict_began_at is None or d not in checked:
            continue
        marks = [u.started, u.answered, began, checked[d], verdict_began_at, u.seen]
        for name, a, b in zip(STAGES, marks, marks[1:], strict=False):
            out[name].append((b - a) * 1000)
    return out


def rows(results: dict[str, list[LoadResult]], uploads: list[Upload], stages: dict[str, list[float]]) -> list[Row]:
    from .api_identity import pooled

    if not results["pipeline"] or not results["baseline"]:
        raise RuntimeError("the pipeline or its baseline was not measured")
    pipe = pooled(results["pipeline"])
    base = pooled(results["baseline"])
    group = f"{GROUP} ({CLIENTS} clients, {DOCUMENT_KB} KB receipts)"
    bare = f"put_object + {HOPS} Celery round trips"
    out = [
        Row(group, "throughput, verdicts a second", pipe.throughput, "docs/s", base.throughput, bare, THROUGHPUT),
    ]
    for q in (50, 95, 99):
        out.append(
            Row(
                group,
                f"upload start → verdict visible, p{q}",
                pipe.p(q) * 1000,
                "ms",
                base.p(q) * 1000,
                f"{bare}, p{q}",
                target=LATENCY_P95 if q == 95 else None,
            )
        )
    counts = {v: sum(u.verdict == v for u in uploads) for v in VERDICTS}
    note = ", ".join(f"{n} {v}" for v, n in counts.items())
    out.append(
        Row(group, "verdicts accepted", float(counts["accepted"]), "docs", float(len(uploads)), "measured", note=note)
    )
    p95s = "; ".join(f"{name} {percentile(v, 95):.0f} ms" for name, v in stages.items() if v)
    for k, name in enumerate(n for n in STAGES if stages.get(n)):
        out.append(
            Row(
                group,
                f"stage p50: {name}",
                percentile(stages[name], 50),
                "ms",
                None,
                note=f"where the time goes (p95 of each stage): {p95s}" if k == 0 else "",
            )
        )
    return out


BENCHMARK = Benchmark(
    name="pipeline",
    title="upload to verdict through documents and finance vs bare put_object and Celery round trips; memory",
    servers=("postgres", "redis", "s3"),
    run=run,
)
