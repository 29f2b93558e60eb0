"""Identity's HTTP API under gunicorn, as deployed: busy reads and login against GET /healthz.

Starts identity exactly as `make run` does (deploy/gunicorn.conf.py, its default workers and
threads), seeds tenants, schools and users through identity's own domain functions, then lets
N concurrent clients (threads, one keep-alive session each) send a fixed number of requests per
endpoint. The reads and /healthz run in interleaved rounds (and /healthz once more at the end),
so the baseline and the endpoints share the same stretch of time on a machine whose speed drifts;
each endpoint's pooled p50, p95 and throughput is divided by /healthz's. Login (argon2id) runs once.
The gunicorn processes' resident memory is sampled throughout.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from .core import (
    LOOPBACK,
    Benchmark,
    Context,
    LoadResult,
    Row,
    RssSampler,
    Service,
    Target,
    closed_loop,
    free_port,
    log,
    run_command,
    scrubbed_environ,
    wait_until,
)

GROUP = "identity API"
BUSY_READ_P95 = Target(max_ratio=5.0)  # DESIGN: a busy read within 5× the trivial endpoint at p95
PROCESS_RSS = Target(max_value=300.0)  # MB: no process above 300 MB
PASSWORD = "bench-password-0001"
TRIVIAL = "GET /healthz"
REGIONS = ("kurzeme", "latgale", "riga", "vidzeme", "zemgale")
SCHOOL_ROLES = (
    "teacher",
    "plan_preparer",
    "support_provider",
    "teacher",
    "accountant",
    "teacher",
    "school_coordinator",
    "director",
)


@dataclass(frozen=True)
class Plan:
    tenants: int
    users: int
    clients: int
    rounds: int  # the reads and /healthz run in this many interleaved rounds, pooled per endpoint
    reads: int  # requests per client per round for each busy read
    trivial: int  # requests per client per round for /healthz
    logins: int  # logins per client (one phase, after the first round)
    phase_seconds: float


def plan(ctx: Context) -> Plan:
    if ctx.quick:
        return Plan(tenants=10, users=200, clients=8, rounds=2, reads=8, trivial=20, logins=1, phase_seconds=6)
    return Plan(tenants=50, users=2000, clients=8, rounds=3, reads=35, trivial=35, logins=4, phase_seconds=12)


def run(ctx: Context) -> list[Row]:
    p = plan(ctx)
    db_url = ctx.create_database("identity")
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    admin_email, admin_password = "admin@bench.local", secrets.token_urlsafe(18)
    env = ctx.child_env(
        IDENTITY_DATABASE_URL=db_url,
        REDIS_URL=ctx.servers["REDIS_URL"],
        LOG_LEVEL="WARNING",
        JWT_ISSUER=base,
        IDENTITY_PUBLIC_URL=base,
        PORT=str(port),
        HOST=LOOPBACK,
    )
    py = sys.executable
    setup_log = ctx.logs / "identity-setup.log"
    log("identity: migrate, create the admin")
    run_command([py, "-m", "services.identity.cli", "migrate"], env, setup_log, timeout=120)
    run_command(
        [py, "-m", "services.identity.cli", "create-admin", "--email", admin_email],
        {**env, "IDENTITY_ADMIN_PASSWORD": admin_password},
        setup_log,
        timeout=60,
    )

    api = Service(
        "identity-api",
        [py, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "services.identity.wsgi:app"],
        env,
        ctx.logs / "identity-api.log",
    )
    sampler: RssSampler | None = None
    try:
        api.start()
        log(f"identity: seeding {p.tenants} tenants and {p.users} users through the domain")
        t0 = time.monotonic()
        emails = seed(
            db_url,
            ctx.servers["REDIS_URL"],
            admin_email,
            p.tenants,
            p.users,
            deadline=ctx.phase_deadline(60 if not ctx.quick else 30),
        )
        log(f"identity: seeded in {time.monotonic() - t0:.1f}s")
        workers = expected_workers()
        wait_until(lambda: _ready(base, api), timeout=60, what=f"identity at {base}/readyz")
        wait_until(lambda: _worker_count(api) >= workers, timeout=30, what=f"{workers} gunicorn workers")
        time.sleep(0.5)
        sampler = RssSampler(api.pid, interval=0.1, max_seconds=max(ctx.remaining(), 10)).start()
        idle = sampler.snapshot()
        pids_before = _worker_pids(api)

        admin_token = login(base, admin_email, admin_password)
        user_tokens = [login(base, emails[c], PASSWORD) for c in range(p.clients)]
        results = measure(ctx, p, base, admin_token, user_tokens, emails, api)
        sampler.stop()
        restarted = pids_before - _worker_pids(api)
        if restarted:
            ctx.notes.append(
                f"{len(restarted)} gunicorn worker(s) were replaced during the run "
                "(max_requests), which shows in latency and memory"
            )
    finally:
        if sampler is not None:
            sampler.stop()
        api.stop()
    return rows(ctx, results, sampler, idle, p)


def measure(
    ctx: Context, p: Plan, base: str, admin_token: str, user_tokens: list[str], emails: list[str], api: Service
) -> dict[str, list[LoadResult]]:
    admin = {"Authorization": f"Bearer {admin_token}"}

    def get(path: str, headers: dict[str, str] | None = None) -> Any:
        def request(s: requests.Session, _c: int, _i: int) -> requests.Response:
            return s.get(base + path, headers=headers, timeout=30)

        return request

    def me(s: requests.Session, c: int, _i: int) -> requests.Response:
        return s.get(base + "/auth/me", headers={"Authorization": f"Bearer {user_tokens[c]}"}, timeout=30)

    # each login is a different seeded user (the first `clients` logged in already)
    def login_request(s: requests.Session, c: int, i: int) -> requests.Response:
        email = emails[(p.clients + c * max(p.logins, 1) + max(i, 0)) % len(emails)]
        return s.post(base + "/auth/login", json={"email": email, "password": PASSWORD}, timeout=60)

    # rounds of [/healthz, the reads], logins after the first, and /healthz once more at the end:
    # every endpoint's samples and the baseline's are spread over the same stretch of time
    reads: list[tuple[str, Any, int, int]] = [
        (TRIVIAL, get("/healthz"), p.trivial, 5),
        ("GET /auth/me", me, p.reads, 3),
        ("GET /users?page_size=50", get("/users?page_size=50", admin), p.reads, 3),
        ("GET /tenants?page_size=50", get("/tenants?page_size=50", admin), p.reads, 3),
    ]
    phases = list(reads)
    phases.append(("POST /auth/login", login_request, p.logins, 0))
    for _ in range(p.rounds - 1):
        phases.extend(reads)
    phases.append((TRIVIAL, get("/healthz"), p.trivial, 5))
    results: dict[str, list[LoadResult]] = {}
    for name, request, per_client, warmup in phases:
        api.check_alive()
        if ctx.remaining() < 5:
            ctx.notes.append(f"skipped a round of {name}: out of time")
            continue
        result = closed_loop(
            name,
            request,
            clients=p.clients,
            per_client=per_client,
            warmup=warmup,
            time_limit=min(p.phase_seconds, max(ctx.remaining() - 3, 1)),
        )
        log(f"identity: {result.summary()}")
        if result.errors:
            ctx.notes.append(f"{name}: {result.errors} failed request(s), first: {result.first_error}")
        if result.cut_short:
            ctx.notes.append(f"{name}: a round stopped at the time limit after {result.done} of {result.planned}")
        results.setdefault(name, []).append(result)
    return results


def rows(
    ctx: Context, results: dict[str, list[LoadResult]], sampler: RssSampler | None, idle: dict[int, int], p: Plan
) -> list[Row]:
    out: list[Row] = []
    trivial = [r for r in results.get(TRIVIAL, []) if r.done]
    if not trivial:
        raise RuntimeError("the baseline GET /healthz was not measured")
    # the baseline pools every /healthz round, so a machine that slows down (or speeds up) during
    # the run moves the baseline as it moves the others; the drift has rows of its own
    base = pooled(trivial)
    b50, b95, brps = base.p(50) * 1000, base.p(95) * 1000, base.throughput
    group = f"{GROUP} ({p.clients} clients)"
    for name, rounds in results.items():
        result = pooled([r for r in rounds if r.done])
        if name == TRIVIAL or not result.done:
            continue
        busy_read = name.startswith("GET ")
        out.append(Row(group, f"{name} p50", result.p(50) * 1000, "ms", b50, "/healthz p50*"))
        out.append(
            Row(
                group,
                f"{name} p95",
                result.p(95) * 1000,
                "ms",
                b95,
                "/healthz p95*",
                target=BUSY_READ_P95 if busy_read else None,
                note="" if busy_read else "argon2id (64 MiB, t=3) by design: expected far above the baseline",
            )
        )
        out.append(Row(group, f"{name} throughput", result.throughput, "req/s", brps, "/healthz*"))
    if len(trivial) > 1:
        first, last = trivial[0], trivial[-1]
        drift = "GET /healthz at the end vs at the start"
        out.append(Row(group, f"{drift}, p95", last.p(95) * 1000, "ms", first.p(95) * 1000, "at start"))
        out.append(Row(group, f"{drift}, throughput", last.throughput, "req/s", first.throughput, "at start"))
    if sampler is not None and sampler.peaks:
        mb = 1024 * 1024
        _pid, peak = sampler.peak_process
        idle_max = max(idle.values(), default=0)
        out.append(
            Row(
                group,
                "gunicorn largest process, peak RSS",
                peak / mb,
                "MB",
                idle_max / mb or None,
                "largest at idle",
                target=PROCESS_RSS,
            )
        )
        out.append(
            Row(
                group,
                "gunicorn all processes, peak RSS",
                sampler.peak_total / mb,
                "MB",
                sum(idle.values()) / mb or None,
                "all at idle",
            )
        )
    return out


# ---------------------------------------------------------------------------------------- helpers


def pooled(results: list[LoadResult]) -> LoadResult:
    out = results[0]
    for more in results[1:]:
        out = out.pooled(more, out.name)
    return out


def expected_workers() -> int:
    """What deploy/gunicorn.conf.py starts when WEB_CONCURRENCY is unset (we never pass it)."""
    import multiprocessing

    return min(4, multiprocessing.cpu_count() * 2)


def _worker_pids(api: Service) -> set[int]:
    import psutil

    try:
        return {c.pid for c in psutil.Process(api.pid).children()}
    except psutil.Error:
        return set()


def _worker_count(api: Service) -> int:
    api.check_alive()
    return len(_worker_pids(api))


def _ready(base: str, api: Service) -> bool:
    api.check_alive()
    return requests.get(f"{base}/readyz", timeout=2).status_code == 200


def _check_time(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"{what} took too long (is the machine very busy?)")


def login(base: str, email: str, password: str) -> str:
    resp = requests.post(f"{base}/auth/login", json={"email": email, "password": password}, timeout=60)
    if resp.status_code != 200:
        raise RuntimeError(f"login as {email} -> {resp.status_code}: {resp.text[:300]}")
    return str(resp.json()["access_token"])


def seed(db_url: str, redis_url: str, admin_email: str, tenants: int, users: int, deadline: float) -> list[str]:
    """Tenants with schools, and users with one role each, through identity's admin functions.

    Argon2 is deliberately slow (about a quarter of a second a hash here), so every seeded user gets
    the same password and it is hashed once: the rest of create_user runs as in the API. The
    messages the changes publish are written to the outbox as usual but not relayed (no service
    consumes them in this benchmark; relaying thousands would only cost time); they are marked sent
    at the end, as in a steady state. Returns the seeded users' e-mails; the first ones are teachers
    of different tenants (the benchmark's clients log in as them).
    """
    from sqlalchemy import select, update

    from services.common.auth import Principal
    from services.common.db import utcnow
    from services.identity import admin as domain
    from services.identity.models import User
    from services.identity.runtime import make_runtime
    from services.identity.settings import load_identity_settings

    with scrubbed_environ(IDENTITY_DATABASE_URL=db_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING", LOG_FORMAT="console"):
        settings = load_identity_settings()
    runtime = make_runtime(settings)
    real_hash = domain.hash_password
    hashes: dict[str, str] = {}

    def hash_once(password: str) -> str:
        if password not in hashes:
            hashes[password] = real_hash(password)
        return hashes[password]

    domain.hash_password = hash_once  # type: ignore[assignment]
    runtime.outbox.relay = lambda ids=None, limit=200: 0  # type: ignore[method-assign]
    try:
        with runtime.db.session() as session:
            admin_id = session.execute(select(User.id).where(User.email == admin_email)).scalar_one()
        principal = Principal.from_claims({"sub": str(admin_id), "roles": [{"role": "platform_admin"}]})
        run_id = f"{os.getpid() % 10000:04d}"
        scopes: list[tuple[uuid.UUID, list[uuid.UUID], str]] = []  # (tenant, its schools, kind)
        for t in range(tenants):
            _check_time(deadline, "seeding tenants")
            vocational = t % 10 == 9
            with runtime.db.session() as session:
                tenant = domain.create_tenant(
                    session,
                    runtime.outbox,
                    principal,
                    {
                        "kind": "vocational_school" if vocational else "municipality",
                        "name": f"{'Tehnikums' if vocational else 'Novads'} {t:03d}",
                        "registration_number": f"9{run_id}{t:06d}",
                        "region": REGIONS[t % len(REGIONS)],
                        "student_count": 500 + 37 * t,
                    },
                )
                schools = [s.id for s in tenant.schools]
                if not vocational:
                    for k in range(3):
                        school = domain.create_school(
                            session,
                            runtime.outbox,
                            principal,
                            tenant.id,
                            {
                                "name": f"Skola {t:03d}-{k}",
                                "registration_number": f"4{run_id}{t:04d}{k:02d}",
                                "student_count": 100 + 11 * k,
                            },
                        )
                        schools.append(school.id)
                scopes.append((tenant.id, schools, tenant.kind))
        emails: list[str] = []
        batch = 100  # users per transaction
        for start in range(0, users, batch):
            _check_time(deadline, "seeding users")
            with runtime.db.session() as session:
                for n in range(start, min(start + batch, users)):
                    tenant_id, schools, kind = scopes[n % len(scopes)]
                    k = n // len(scopes)
                    role = SCHOOL_ROLES[k % len(SCHOOL_ROLES)]
                    if k == 1 and kind == "municipality":
                        grant: dict[str, Any] = {"role": "municipality_coordinator", "tenant_id": tenant_id}
                    elif role == "accountant":
                        grant = {"role": role, "tenant_id": tenant_id}
                    else:
                        grant = {"role": role, "tenant_id": tenant_id, "school_id": schools[k % len(schools)]}
                    email = f"user{n:05d}@bench.local"
                    domain.create_user(
                        session,
                        runtime.outbox,
                        settings,
                        principal,
                        {
                            "email": email,
                            "full_name": f"Lietotājs {n:05d} Bērziņš",
                            "tenant_id": tenant_id,
                            "password": PASSWORD,
                            "language": "lv",
                            "roles": [grant],
                        },
                    )
                    emails.append(email)
        with runtime.db.session() as session:
            session.execute(
                update(runtime.tables.outbox)
                .where(runtime.tables.outbox.c.sent_at.is_(None))
                .values(sent_at=utcnow(), attempts=1)
            )
    finally:
        domain.hash_password = real_hash  # type: ignore[assignment]
        runtime.db.dispose()
    return emails


BENCHMARK = Benchmark(
    name="api_identity",
    title="identity API under gunicorn: busy reads and login vs GET /healthz, and memory",
    servers=("postgres", "redis"),
    run=run,
)
