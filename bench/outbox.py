"""The transactional outbox against bare Celery, through the same real worker.

The probe service of the tests (tests/support/probe.py) records one effect per message. Two ways
of getting N messages to its worker are timed until every effect is recorded:

- baseline: `celery.send_task` of ready envelopes (fresh message ids) straight to the probe queue;
- outbox:   each message published in its own committed transaction, relayed after the commit
            (and by the worker's relay thread, as deployed), then consumed the same way.

Throughput comes from bursts (publishers as fast as they can); latency from paced runs well
below capacity, so it measures the path rather than a queue: commit (or send) to the effect's row.
Each is run in rounds, baseline and outbox alternating (ABBA), and pooled.
The effects table gets a `recorded_at DEFAULT clock_timestamp()` column in this benchmark's own
database, so the effect time is stamped by PostgreSQL on the same clock as the publisher.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .core import (
    Benchmark,
    Context,
    Row,
    RssSampler,
    Service,
    Target,
    log,
    percentile,
    scrubbed_environ,
    sqlalchemy_url,
    wait_until,
)

GROUP = "outbox"
PROCESS_RSS = Target(max_value=300.0)  # MB: no process above 300 MB
WORKER_CONCURRENCY = 2  # as deploy/processes.toml runs every service's worker


@dataclass(frozen=True)
class Plan:
    rounds: int  # each path runs this many bursts and paced runs, alternating (ABBA), pooled
    burst: int  # messages per burst
    publishers: int  # threads publishing the burst
    paced: int  # messages per paced (latency) run
    rate: float  # messages per second in the paced run
    drain_seconds: float  # longest wait for the effects of one phase


def plan(ctx: Context) -> Plan:
    if ctx.quick:
        return Plan(rounds=2, burst=100, publishers=4, paced=20, rate=40.0, drain_seconds=20)
    return Plan(rounds=2, burst=500, publishers=4, paced=75, rate=30.0, drain_seconds=40)


Sender = Callable[[int], tuple[str, float]]  # value -> (message id, when it was committed or sent)


def run(ctx: Context) -> list[Row]:
    from sqlalchemy import create_engine, text

    from tests.support import probe

    p = plan(ctx)
    url = sqlalchemy_url(ctx.create_database("probe"))
    broker = ctx.redis_url(2)  # a Redis database of its own: nothing else is queued there
    engine = create_engine(url)
    try:
        probe.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "ALTER TABLE effects ADD COLUMN IF NOT EXISTS recorded_at timestamptz "
                    "NOT NULL DEFAULT clock_timestamp()"
                )
            )
    finally:
        engine.dispose()
    import redis

    redis.Redis.from_url(broker).flushdb()

    with scrubbed_environ(PROBE_DATABASE_URL=url, PROBE_BROKER_URL=broker):
        settings = probe.settings_from_env().replace(log_level="WARNING")  # the worker keeps INFO
    runtime = probe.make_runtime(settings)
    worker = Service(
        "probe-worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.support.probe_worker",
            "worker",
            "-Q",
            "probe",
            "-c",
            str(WORKER_CONCURRENCY),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"probe-bench-{time.monotonic_ns()}@%h",
        ],
        ctx.child_env(PROBE_DATABASE_URL=url, PROBE_BROKER_URL=broker),
        ctx.logs / "probe-worker.log",
    )
    bench = Phases(ctx, p, runtime)
    sampler: RssSampler | None = None
    try:
        worker.start()
        wait_until(lambda: _ready(worker), timeout=60, what="the probe worker", interval=0.2)
        time.sleep(0.5)
        sampler = RssSampler(worker.pid, max_seconds=max(ctx.remaining(), 10)).start()
        idle = sampler.snapshot()

        bench.worker = worker
        log("outbox: warming up both paths")
        bench.burst("warm-up baseline", bench.send_direct, 20, publishers=2)
        bench.burst("warm-up outbox", bench.send_outbox, 20, publishers=2)
        paths = {"baseline": bench.send_direct, "outbox": bench.send_outbox}
        bursts: dict[str, list[Outcome]] = {"baseline": [], "outbox": []}
        paced: dict[str, list[Outcome]] = {"baseline": [], "outbox": []}
        for r in range(p.rounds):  # baseline, outbox, outbox, baseline, ...: a steady drift cancels out
            for path in ("baseline", "outbox") if r % 2 == 0 else ("outbox", "baseline"):
                bursts[path].append(bench.burst(f"{path} burst {r + 1}", paths[path], p.burst, p.publishers))
        for r in range(p.rounds):
            for path in ("baseline", "outbox") if r % 2 == 0 else ("outbox", "baseline"):
                paced[path].append(bench.paced(f"{path} paced {r + 1}", paths[path]))
        base_burst, outbox_burst = pooled(bursts["baseline"]), pooled(bursts["outbox"])
        base_paced, outbox_paced = pooled(paced["baseline"]), pooled(paced["outbox"])
        sampler.stop()
        worker.check_alive()
    finally:
        if sampler is not None:
            sampler.stop()
        worker.stop()
        if "celery" in vars(runtime):  # built on first use: close its broker connections
            runtime.celery.close()
        runtime.db.dispose()

    group = f"{GROUP} ({p.publishers} publishers, worker -c {WORKER_CONCURRENCY})"
    out = [
        Row(
            group,
            f"throughput, {p.rounds} bursts of {p.burst}",
            outbox_burst.throughput,
            "msg/s",
            base_burst.throughput,
            "send_task",
        ),
        Row(
            group,
            f"commit → effect p50 at {p.rate:g} msg/s",
            outbox_paced.p(50) * 1000,
            "ms",
            base_paced.p(50) * 1000,
            "send → effect",
        ),
        Row(
            group,
            f"commit → effect p95 at {p.rate:g} msg/s",
            outbox_paced.p(95) * 1000,
            "ms",
            base_paced.p(95) * 1000,
            "send → effect",
        ),
        Row(
            group,
            f"publish call per message at {p.rate:g} msg/s",
            outbox_paced.send_ms,
            "ms",
            base_paced.send_ms,
            "send_task call",
        ),
    ]
    if sampler is not None and sampler.peaks:
        mb = 1024 * 1024
        out.append(
            Row(
                group,
                "probe worker largest process, peak RSS",
                sampler.peak_process[1] / mb,
                "MB",
                max(idle.values(), default=0) / mb or None,
                "largest at idle",
                target=PROCESS_RSS,
            )
        )
    return out


@dataclass
class Outcome:
    name: str
    sent: int
    elapsed: float  # first send to the last effect, seconds
    latencies: list[float]  # commit/send to effect, seconds
    send_ms: float  # mean time a publisher spent per message

    @property
    def throughput(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


def pooled(outcomes: list[Outcome]) -> Outcome:
    """Rounds as one: messages over the summed time, every latency, the mean call time."""
    sent = sum(o.sent for o in outcomes)
    return Outcome(
        outcomes[0].name,
        sent,
        sum(o.elapsed for o in outcomes),
        [x for o in outcomes for x in o.latencies],
        sum(o.send_ms * o.sent for o in outcomes) / max(sent, 1),
    )


class Phases:
    def __init__(self, ctx: Context, plan: Plan, runtime: Any) -> None:
        self.ctx, self.plan, self.runtime = ctx, plan, runtime
        self.worker: Service | None = None

    # ---- the two ways of sending one message

    def send_direct(self, value: int) -> tuple[str, float]:
        mid = str(uuid.uuid4())
        envelope = {
            "message_id": mid,
            "name": "probe.record",
            "version": 1,
            "correlation_id": None,
            "payload": {"value": value},
        }
        at = time.time()
        self.runtime.celery.send_task("probe.record", kwargs={"message": envelope}, queue="probe", task_id=mid)
        return mid, at

    def send_outbox(self, value: int) -> tuple[str, float]:
        from sqlalchemy import event

        stamp: list[float] = []
        with self.runtime.db.session() as session:
            # registered before the outbox's own hook, so it fires first: the moment of the commit
            event.listen(session, "after_commit", lambda _s: stamp.append(time.time()))
            [mid] = self.runtime.outbox.publish(session, "probe.record", {"value": value})
        return str(mid), stamp[0]

    # ---- phases

    def burst(self, name: str, send: Sender, count: int, publishers: int) -> Outcome:
        self._reset()
        stamps: dict[str, float] = {}
        spent: list[float] = []
        failures: list[BaseException] = []
        stop_at = self.ctx.phase_deadline(self.plan.drain_seconds)
        start = threading.Barrier(publishers, timeout=30)

        def publisher(k: int) -> None:
            try:
                start.wait()
                t0 = time.perf_counter()
                n = 0
                for value in range(k, count, publishers):
                    if time.monotonic() > stop_at:
                        break
                    mid, at = send(value)
                    stamps[mid] = at
                    n += 1
                spent.append((time.perf_counter() - t0) / max(n, 1))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=publisher, args=(k,), daemon=True) for k in range(publishers)]
        began = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, stop_at - time.monotonic() + 10))
        if failures:
            raise RuntimeError(f"{name}: a publisher failed: {failures[0]!r}") from failures[0]
        return self._collect(name, stamps, began, sum(spent) / len(spent) * 1000 if spent else 0.0)

    def paced(self, name: str, send: Sender) -> Outcome:
        self._reset()
        stamps: dict[str, float] = {}
        stop_at = self.ctx.phase_deadline(self.plan.paced / self.plan.rate + 10)
        began = time.time()
        t0 = time.monotonic()
        spent = 0.0
        for i in range(self.plan.paced):
            due = t0 + i / self.plan.rate
            if due > stop_at:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            s0 = time.perf_counter()
            mid, at = send(i)
            spent += time.perf_counter() - s0
            stamps[mid] = at
        return self._collect(name, stamps, began, spent / max(len(stamps), 1) * 1000)

    # ---- helpers

    def _collect(self, name: str, stamps: dict[str, float], began: float, send_ms: float) -> Outcome:
        from sqlalchemy import text

        engine = self.runtime.db.engine

        def all_recorded() -> bool:
            if self.worker is not None:
                self.worker.check_alive()
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM effects")).scalar_one()) >= len(stamps)

        timeout = max(5.0, min(self.plan.drain_seconds, self.ctx.remaining() - 2))
        wait_until(all_recorded, timeout=timeout, what=f"{name}: {len(stamps)} effects", interval=0.05)
        with engine.connect() as conn:
            recorded = {
                r.message_id: r.recorded_at.timestamp()
                for r in conn.execute(text("SELECT message_id, recorded_at FROM effects"))
            }
        missing = set(stamps) - set(recorded)
        if missing or len(recorded) != len(stamps):
            raise RuntimeError(f"{name}: {len(recorded)} effects for {len(stamps)} messages ({len(missing)} missing)")
        latencies = [recorded[mid] - at for mid, at in stamps.items()]
        outcome = Outcome(name, len(stamps), max(recorded.values()) - began, latencies, send_ms)
        log(
            f"outbox: {name}: {outcome.sent} messages in {outcome.elapsed:.2f}s = {outcome.throughput:.0f}/s, "
            f"p50 {outcome.p(50) * 1000:.1f} ms, p95 {outcome.p(95) * 1000:.1f} ms, "
            f"{send_ms:.2f} ms per send"
        )
        return outcome

    def _reset(self) -> None:
        """Empty the probe's tables between phases (the worker is idle: every effect is in)."""
        from sqlalchemy import text

        with self.runtime.db.engine.begin() as conn:
            conn.execute(text("TRUNCATE effects, processed_messages, outbox, dead_letters RESTART IDENTITY"))


def _ready(worker: Service) -> bool:
    worker.check_alive()
    return " ready." in worker.log_text()


BENCHMARK = Benchmark(
    name="outbox",
    title="messages through the outbox to a real worker vs bare send_task to the same worker",
    servers=("postgres", "redis"),
    run=run,
)
