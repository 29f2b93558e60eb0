"""The processes the upload-to-verdict pipeline runs on, as deployed.

Identity's API (it signs the coordinator's token and publishes the JWKS documents verifies it with), documents'
API under gunicorn with deploy/gunicorn.conf.py, and the documents and finance workers, each with the command
deploy/processes.toml gives it; a bare echo worker for the baseline's Celery round trips, on the same broker.
"""

from __future__ import annotations

import functools
import socket
import sys
import time
from dataclasses import dataclass, field

import requests

from .core import (
    LOOPBACK,
    Context,
    Service,
    free_port,
    log,
    scrubbed_environ,
    sqlalchemy_url,
    wait_until,
)

BUCKET = "pumpurs-documents-bench"
WORKER_PROCESSES = ("documents-worker", "finance-worker")


@dataclass
class Stack:
    """The running processes and where they answer."""

    ctx: Context
    broker: str
    db: dict[str, str]  # service -> database URL (postgresql://)
    identity_url: str
    documents_url: str
    services: list[Service] = field(default_factory=list)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def check_alive(self) -> None:
        for service in self.services:
            service.check_alive()

    def values(self) -> dict[str, str]:
        """The platform settings every process of the pipeline gets."""
        s = self.ctx.servers
        return {
            "REDIS_URL": self.broker,
            "JWT_ISSUER": self.identity_url,
            "IDENTITY_PUBLIC_URL": self.identity_url,
            "S3_ENDPOINT_URL": s["S3_ENDPOINT_URL"],
            "S3_ACCESS_KEY": s["S3_ACCESS_KEY"],
            "S3_SECRET_KEY": s["S3_SECRET_KEY"],
            "DOCUMENTS_BUCKET": BUCKET,
            "LOG_LEVEL": "INFO",  # as deployed (deploy/.env.example), into the logs of this run
            "LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": str(self.ctx.root / "prometheus"),
            "IDENTITY_DATABASE_URL": self.db["identity"],
            "DOCUMENTS_DATABASE_URL": self.db["documents"],
            "FINANCE_DATABASE_URL": self.db["finance"],
            "BENCH_BROKER_URL": self.broker,
        }

    def env(self, **more: str) -> dict[str, str]:
        """A subprocess's environment: ours without platform settings, then the pipeline's, then `more`."""
        return self.ctx.child_env(**self.values(), **more)


def deployed_command(name: str) -> list[str]:
    """A process's command from deploy/processes.toml, with this interpreter."""
    from devstack.run import expand, load_processes

    for proc in load_processes()["processes"]:
        if proc["name"] == name:
            return expand(proc["command"])
    raise KeyError(f"{name} is not in deploy/processes.toml")


def start(ctx: Context) -> Stack:
    """Databases, migrations, the settings seed, then every process; returns once all of them answer."""
    import redis

    broker = ctx.redis_url(3)  # a Redis database of its own: only this benchmark's queues are there
    redis.Redis.from_url(broker).flushdb()
    db = {svc: ctx.create_database(f"pipeline_{svc}") for svc in ("identity", "documents", "finance")}
    (ctx.root / "prometheus").mkdir(parents=True, exist_ok=True)
    identity_port, documents_port = free_port(), free_port()
    stack = Stack(ctx, broker, db, f"http://{LOOPBACK}:{identity_port}", f"http://{LOOPBACK}:{documents_port}")
    py, env = sys.executable, stack.env()
    t0 = time.monotonic()
    prepare(stack)
    log(f"pipeline: migrated, bucket and programme settings ready in {time.monotonic() - t0:.0f}s")

    def api(name: str, port: int, **more: str) -> Service:
        penv = stack.env(PORT=str(port), HOST=LOOPBACK, **more)
        return Service(name, deployed_command(name), penv, ctx.logs / f"{name}.log")

    stack.services = [
        # identity only signs the one token and serves its JWKS: one worker, not the four of the measured API
        api("identity-api", identity_port, WEB_CONCURRENCY="1"),
        api("documents-api", documents_port),
        *(Service(n, deployed_command(n), env, ctx.logs / f"{n}.log") for n in WORKER_PROCESSES),
        Service(
            "echo-worker",
            [
                py,
                "-m",
                "celery",
                "-A",
                "bench.echo_worker",
                "worker",
                "-Q",
                "bench-echo",
                "--concurrency",
                "2",  # as each service's worker
                "--hostname",
                "bench-echo@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            env,
            ctx.logs / "echo-worker.log",
        ),
    ]
    try:
        for service in stack.services:
            service.start()
        for url in (stack.identity_url, stack.documents_url):
            wait_until(functools.partial(_ready, stack, url), timeout=90, what=f"{url}/readyz")
        nodes = {f"{n}@{socket.gethostname()}" for n in ("documents", "finance", "bench-echo")}
        wait_until(lambda: _workers_answer(stack, nodes), timeout=90, what=f"workers {sorted(nodes)}", interval=0.5)
        wait_until(lambda: _gunicorn_workers(stack), timeout=30, what="every gunicorn worker")
    except BaseException:
        stack.stop()
        raise
    return stack


def prepare(stack: Stack) -> None:
    """What the deployed set-up jobs do, in this process (three fewer interpreters to start on a busy machine):
    each service's migrations, documents' bucket, finance's EXAMPLE programme settings (published to plans and
    notifications as `services.finance.cli seed-settings` publishes them)."""
    from services.common import migrate
    from services.documents.settings import load_documents_settings
    from services.documents.storage import Storage
    from services.finance import settings_changes
    from services.finance.runtime import make_runtime
    from services.finance.settings import load_finance_settings

    for service, url in stack.db.items():
        migrate.upgrade(service, sqlalchemy_url(url))
    with scrubbed_environ(**{**stack.values(), "LOG_LEVEL": "WARNING", "LOG_FORMAT": "console"}):
        documents, finance = load_documents_settings(), load_finance_settings()
    Storage(documents).ensure_bucket()
    runtime = make_runtime(finance)
    try:
        with runtime.db.session() as session:
            settings_changes.seed(session, runtime.outbox)
    finally:
        if "celery" in vars(runtime):
            runtime.celery.close()
        runtime.db.dispose()


def _ready(stack: Stack, url: str) -> bool:
    stack.check_alive()
    return requests.get(f"{url}/readyz", timeout=3).status_code == 200


def _workers_answer(stack: Stack, nodes: set[str]) -> bool:
    from .echo_worker import make_app

    stack.check_alive()
    app = make_app(stack.broker)
    try:
        replies = app.control.ping(timeout=1.0)
    finally:
        app.close()
    return nodes <= {name for reply in replies for name in reply}


def _gunicorn_workers(stack: Stack) -> bool:
    import multiprocessing

    import psutil

    want = {
        "identity-api": 1,
        "documents-api": min(4, multiprocessing.cpu_count() * 2),  # deploy/gunicorn.conf.py, no WEB_CONCURRENCY
    }
    return all(len(psutil.Process(s.pid).children()) >= want[s.name] for s in stack.services if s.name in want)
