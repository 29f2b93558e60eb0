"""Plans, documents and finance at national scale under gunicorn: their busiest reads against a trivial
authenticated read of the same app on the same server.

Seeds 500 tenants, 25 000 students, 22 000 plans with their risks, measures and transitions, and
200 000 documents with their claims (a tenth of each with --quick) into each service's own database
(national_world.py says what the country looks like, national_seed.py how its rows get in), then starts
each API in turn exactly as deployed (deploy/gunicorn.conf.py, its default workers and threads) and
lets a few concurrent clients read:

- plans:     a school's plan list, first page, as its coordinator filters it (school, this semester);
             a student's timeline, first page (a student of that school with many events);
- documents: the largest municipality's expense package of last month (its coordinator);
- finance:   a region's overview of this semester (the region's coordinator).

Baseline, per app: GET /admin/dead-letters?page_size=1 as the platform admin. It passes through the same
token check (RS256 against the JWKS, the revocation lookup in Redis), role guard, transaction, count
and page as the reads, on an empty table, so a read's ratio is the cost of its own queries and
serialisation. Reads and baseline run in interleaved rounds and are pooled per endpoint, so a machine
whose speed drifts moves both. Tokens come from a key of the run whose JWKS is served locally
(tokens.py): identity's claims, no logins. The gunicorn processes' resident memory is sampled
throughout, and the CPU the API's and PostgreSQL's processes spend per request is read around each
phase: a cost that holds on a machine busy with other work, where latencies do not.
"""

from __future__ import annotations

import queue
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import requests

from .api_identity import expected_workers, pooled
from .core import (
    LOOPBACK,
    Benchmark,
    Context,
    CpuMeter,
    LoadResult,
    MemoryWatch,
    Row,
    Service,
    Target,
    closed_loop,
    free_port,
    listening_pid,
    log,
    scrubbed_environ,
    sqlalchemy_url,
    wait_until,
)
from .national_world import NATIONAL, TENTH, Country, Scale, build
from .tokens import TokenIssuer

GROUP = "APIs at national scale"
BUSY_READ_P95 = Target(max_ratio=5.0)  # a busy read within 5× the trivial endpoint at p95
TRIVIAL = "GET /admin/dead-letters"
SERVICES = ("plans", "documents", "finance")
VERDICTS = ("accepted", "needs_fix", "rejected")  # a checked expense is on the student's timeline


@dataclass(frozen=True)
class Plan:
    scale: Scale
    clients: int
    rounds: int  # the reads and the baseline run in this many interleaved rounds, pooled per endpoint
    per_client: int  # requests per client per round for each endpoint
    phase_seconds: float
    seed_seconds: float  # seeding must be done by then


def plan(ctx: Context) -> Plan:
    if ctx.quick:
        return Plan(TENTH, clients=4, rounds=2, per_client=8, phase_seconds=5, seed_seconds=45)
    return Plan(NATIONAL, clients=4, rounds=3, per_client=20, phase_seconds=8, seed_seconds=150)


@dataclass
class Read:
    name: str  # the row's name
    path: str
    token: str
    why: str = ""


def run(ctx: Context) -> list[Row]:
    p = plan(ctx)
    seed = secrets.randbits(31)
    hash_secret, code_key = secrets.token_hex(32), _fernet_key()
    urls = {svc: sqlalchemy_url(ctx.create_database(f"{svc}_national")) for svc in SERVICES}
    redis_url = ctx.redis_url(3)
    today = date.today()

    log(f"national: seeding {_describe(p.scale)} into plans, documents and finance (seed {seed})")
    t0 = time.monotonic()
    country = build(p.scale, seed, today)
    counts = seed_all(urls, redis_url, country, hash_secret, code_key, ctx.phase_deadline(p.seed_seconds))
    seeded = time.monotonic() - t0
    docs = counts["documents"]["documents"]
    ctx.notes.append(
        f"seeded {p.scale.tenants} tenants, {len(country.students)} students, {len(country.plans)} plans with "
        f"{counts['plans']['measures']} measures, {docs} documents (database rows only: list reads never "
        f"touch S3, so no bytes were stored) with {counts['finance']['claims']} claims, "
        f"{counts['plans']['timeline_events']} timeline events, {sum(sum(c.values()) for c in counts.values())} "
        f"rows in all, in {seeded:.0f}s" + (" (--quick: a tenth of the country)" if ctx.quick else "") + "; not "
        "seeded, as no read here touches them: plans' agreements, KA form lines, orders, evaluations and audit, "
        "finance's check runs and rule results"
    )

    issuer = TokenIssuer().start()
    rows: list[Row] = []
    try:
        reads = targets(country, issuer)
        admin = issuer.token(country.admin_id, [{"role": "platform_admin"}])
        for svc in SERVICES:
            if ctx.remaining() < 15:
                ctx.notes.append(f"{svc}: not measured, out of time")
                continue
            env = {
                f"{svc.upper()}_DATABASE_URL": urls[svc],
                "REDIS_URL": redis_url,
                "JWT_ISSUER": issuer.issuer,
                "JWKS_URL": issuer.jwks_url,
                "LOG_LEVEL": "WARNING",
            }
            if svc == "plans":
                env.update(PERSON_HASH_SECRET=hash_secret, PERSONAL_CODE_KEY=code_key)
            rows.extend(measure_service(ctx, p, svc, env, admin, reads[svc]))
    finally:
        issuer.stop()
    return rows


def _describe(s: Scale) -> str:
    return f"{s.tenants} tenants, {s.students} students, {s.plans} plans, ~{s.documents} documents"


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# ---------------------------------------------------------------------------------------- seeding


def seed_all(
    urls: dict[str, str], redis_url: str, country: Country, hash_secret: str, code_key: str, deadline: float
) -> dict[str, dict[str, int]]:
    """Migrate and seed the three databases at once, one thread each, sharing the country built once here.

    Threads, not forked processes: a fork inherits the connections of the benchmarks that ran before in this
    process, and kombu's after-fork clean-up then blocks on a Redis reply meant for the parent (seen when
    `national` ran after `pipeline`). The work is COPY into PostgreSQL, so threads overlap well enough."""
    from services.common import migrate

    for plan in country.plans:  # made once, before the threads start
        country.documents(plan)
        country.hours(plan)
    for svc in SERVICES:  # Alembic keeps its context in module globals: one migration at a time
        migrate.upgrade(svc, urls[svc])
    results: queue.Queue[tuple[str, dict[str, int], str]] = queue.Queue()
    workers = [
        threading.Thread(
            target=_seed_child,
            args=(results, svc, urls[svc], redis_url, country, hash_secret, code_key),
            name=f"bench-seed-{svc}",
            daemon=True,
        )
        for svc in SERVICES
    ]
    out: dict[str, dict[str, int]] = {}
    for worker in workers:
        worker.start()
    while len(out) < len(workers):
        try:
            svc, counts, error = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"seeding took too long; done: {sorted(out)}") from None
        if error:
            raise RuntimeError(f"seeding {svc} failed: {error}")
        out[svc] = counts
    return out


def _seed_child(
    results: Any, service: str, url: str, redis_url: str, country: Country, hash_secret: str, code_key: str
) -> None:
    """In a thread: the service's rows (its database already migrated); the outcome goes to `results`."""
    try:
        results.put((service, seed_one(service, url, redis_url, country, hash_secret, code_key), ""))
    except BaseException as exc:
        results.put((service, {}, "".join(traceback.format_exception(exc))[-3000:]))


def seed_one(
    service: str, url: str, redis_url: str, country: Country, hash_secret: str, code_key: str
) -> dict[str, int]:
    from . import national_seed

    if service == "plans":
        return national_seed.seed_plans(url, country, hash_secret, code_key, log)
    if service == "documents":
        return national_seed.seed_documents(url, country, log)
    _finance_settings(url, redis_url)
    from services.plans.codes import code_hash

    return national_seed.seed_finance(url, country, lambda code: code_hash(hash_secret, "personal_code", code), log)


def _finance_settings(url: str, redis_url: str) -> None:
    """The example programme settings, by finance's own seed function; what it publishes is marked sent
    (no other service consumes them here)."""
    from sqlalchemy import update

    from services.common.db import utcnow
    from services.finance import settings_changes
    from services.finance.runtime import make_runtime
    from services.finance.settings import load_finance_settings

    with scrubbed_environ(FINANCE_DATABASE_URL=url, REDIS_URL=redis_url, LOG_LEVEL="WARNING", LOG_FORMAT="console"):
        settings = load_finance_settings()
    runtime = make_runtime(settings)
    runtime.outbox.relay = lambda ids=None, limit=200: 0  # type: ignore[method-assign]
    try:
        with runtime.db.session() as session:
            settings_changes.seed(session, runtime.outbox)
        with runtime.db.session() as session:
            outbox = runtime.tables.outbox
            session.execute(update(outbox).where(outbox.c.sent_at.is_(None)).values(sent_at=utcnow(), attempts=1))
    finally:
        runtime.db.dispose()


# ---------------------------------------------------------------------------------------- the reads


def targets(country: Country, issuer: TokenIssuer) -> dict[str, list[Read]]:
    """The busiest reads and who makes them: the largest school, municipality and region."""
    current = country.current
    school = max(
        country.schools(), key=lambda s: sum(1 for st in s.students for pl in st.plans if pl.semester == current)
    )
    tenant = school.tenant
    scope = {"tenant_id": str(tenant.id), "school_id": str(school.id)}
    coordinator = issuer.token(
        school.coordinator_id, [{"role": "school_coordinator", **scope}], tenant_id=tenant.id, region=tenant.region
    )
    student = max(
        school.students, key=lambda st: sum(len(country.documents(pl)) + len(pl.transitions) for pl in st.plans)
    )
    n_plans = sum(1 for st in school.students for pl in st.plans if pl.semester == current)
    events = 1 + sum(  # student_created, plan_created, each transition, each checked expense
        1 + len(pl.transitions) + sum(1 for d in country.documents(pl) if d.claim_id and d.status in VERDICTS)
        for pl in student.plans
    )

    biggest = country.tenants[0]
    month = (country.today.replace(day=1) - timedelta(days=1)).replace(day=1)
    in_package = sum(
        1
        for pl in country.plans
        if pl.tenant is biggest
        for d in country.documents(pl)
        if d.month == month
        or (d.kind == "attestation" and d.valid_from and d.valid_to and d.valid_from <= month <= d.valid_to)
    )
    municipal = issuer.token(
        biggest.coordinator_id,
        [{"role": "municipality_coordinator", "tenant_id": str(biggest.id)}],
        tenant_id=biggest.id,
        region=biggest.region,
    )
    region = biggest.region
    regional = issuer.token(
        country.regional[region], [{"role": "regional_coordinator", "region": region}], region=region
    )
    in_region = [t for t in country.tenants if t.region == region]
    region_plans = sum(1 for pl in country.plans if pl.semester == current and pl.tenant.region == region)
    return {
        "plans": [
            Read(
                "GET /plans (a school's list, page 1 of 50)",
                f"/plans?school_id={school.id}&semester={current}&page=1&page_size=50",
                coordinator,
                f"plan list: the largest school ({n_plans} plans this semester), its coordinator's view",
            ),
            Read(
                "GET /students/{id}/timeline (page 1)",
                f"/students/{student.id}/timeline",
                coordinator,
                f"timeline: that school's student with the most events ({events}), its coordinator's view",
            ),
        ],
        "documents": [
            Read(
                "GET /packages/{month} (a municipality)",
                f"/packages/{month:%Y-%m}",
                municipal,
                f"package: the largest municipality's {month:%Y-%m} ({in_package} documents), its coordinator",
            )
        ],
        "finance": [
            Read(
                "GET /overview/regions/{region}",
                f"/overview/regions/{region}?semester={current}",
                regional,
                f"overview: {region}, {len(in_region)} tenants, {region_plans} plans this semester, its coordinator",
            )
        ],
    }


WARMUP = 2  # requests per client before each phase's recorded ones


def measure_service(ctx: Context, p: Plan, svc: str, env: dict[str, str], admin: str, reads: list[Read]) -> list[Row]:
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    api = Service(
        f"{svc}-api",
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", f"services.{svc}.wsgi:app"],
        ctx.child_env(**env, PORT=str(port), HOST=LOOPBACK),
        ctx.logs / f"{svc}-national-api.log",
    )
    watch: MemoryWatch | None = None
    results: dict[str, list[LoadResult]] = {}
    cpu: dict[str, list[tuple[float, int]]] = {}  # endpoint -> (CPU seconds, requests) per phase
    try:
        api.start()
        workers = expected_workers()
        wait_until(lambda: _up(base, api), timeout=60, what=f"{svc} at {base}/healthz")
        wait_until(lambda: _workers(api) >= workers, timeout=30, what=f"{svc}: {workers} gunicorn workers")
        for read in reads:  # a wrong path or token fails here, loudly, not as a slow figure
            resp = requests.get(base + read.path, headers=_auth(read.token), timeout=60)
            if resp.status_code != 200:
                raise RuntimeError(f"{svc}: {read.path} -> {resp.status_code}: {resp.text[:300]}")
        time.sleep(0.5)
        watch = MemoryWatch([api], interval=0.1, max_seconds=max(ctx.remaining(), 10)).start()
        # CPU of the API's processes and of PostgreSQL's: what a request costs whatever else the machine does
        roots = {"api": api.pid}
        postgres = listening_pid(ctx.servers["POSTGRES_URL"])
        if postgres is not None:
            roots["postgres"] = postgres
        meter = CpuMeter(roots)
        baseline = Read(TRIVIAL, "/admin/dead-letters?page_size=1", admin)
        phases = [baseline, *reads] * p.rounds + [baseline]
        for read in phases:
            api.check_alive()
            if ctx.remaining() < 5:
                ctx.notes.append(f"{svc}: skipped a round of {read.name}: out of time")
                continue
            before = meter.read()
            result = closed_loop(
                f"{svc} {read.name}",
                _getter(base + read.path, read.token),
                clients=p.clients,
                per_client=p.per_client,
                warmup=WARMUP,
                time_limit=min(p.phase_seconds, max(ctx.remaining() - 3, 1)),
            )
            spent = sum(CpuMeter.spent(before, meter.read()).values())
            cpu.setdefault(read.name, []).append((spent, p.clients * WARMUP + result.done + result.errors))
            log(f"national: {result.summary()}")
            if result.errors:
                ctx.notes.append(f"{svc} {read.name}: {result.errors} failed request(s), first: {result.first_error}")
            results.setdefault(read.name, []).append(result)
        watch.stop()
    finally:
        if watch is not None:
            watch.stop()
        api.stop()
    return rows(p, svc, reads, results, cpu, watch)


def rows(
    p: Plan,
    svc: str,
    reads: list[Read],
    results: dict[str, list[LoadResult]],
    cpu: dict[str, list[tuple[float, int]]],
    watch: MemoryWatch | None,
) -> list[Row]:
    group = f"{GROUP}: {svc} ({p.clients} clients)"
    trivial = [r for r in results.get(TRIVIAL, []) if r.done]
    if not trivial:
        raise RuntimeError(f"{svc}: the baseline {TRIVIAL} was not measured")
    base = pooled(trivial)
    base_cpu = _per_request(cpu.get(TRIVIAL, []))
    out: list[Row] = []
    for read in reads:
        done = [r for r in results.get(read.name, []) if r.done]
        if not done:
            continue
        result = pooled(done)
        bname = "dead-letters"
        out.append(Row(group, f"{read.name} p50", result.p(50) * 1000, "ms", base.p(50) * 1000, f"{bname} p50"))
        out.append(
            Row(
                group,
                f"{read.name} p95",
                result.p(95) * 1000,
                "ms",
                base.p(95) * 1000,
                f"{bname} p95",
                target=BUSY_READ_P95,
                note=read.why,
            )
        )
        used = _per_request(cpu.get(read.name, []))
        if used is not None:
            out.append(
                Row(
                    group,
                    f"{read.name} CPU a request (API + PostgreSQL)",
                    used * 1000,
                    "ms",
                    None if base_cpu is None else base_cpu * 1000,
                    f"{bname} CPU",
                )
            )
    if watch is not None:
        memory = watch.rows(group)
        if memory:
            memory[0].note = f"{svc} gunicorn (master and workers): {watch.note()}"
        out.extend(memory)
    return out


def _per_request(phases: list[tuple[float, int]]) -> float | None:
    requests_made = sum(n for _, n in phases)
    return sum(s for s, _ in phases) / requests_made if requests_made else None


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _getter(url: str, token: str) -> Callable[[requests.Session, int, int], requests.Response]:
    headers = _auth(token)

    def request(s: requests.Session, _c: int, _i: int) -> requests.Response:
        return s.get(url, headers=headers, timeout=60)

    return request


def _workers(api: Service) -> int:
    import psutil

    api.check_alive()
    try:
        return len(psutil.Process(api.pid).children())
    except psutil.Error:
        return 0


def _up(base: str, api: Service) -> bool:
    api.check_alive()
    return requests.get(f"{base}/healthz", timeout=2).status_code == 200


BENCHMARK = Benchmark(
    name="national",
    title="plans, documents and finance at national scale: busy reads vs a trivial authenticated read, and memory",
    servers=("postgres", "redis"),
    run=run,
)
