"""`make run`: bundled servers, migrations, the first admin, then every process of deploy/processes.toml.

    python -m devstack.run            run until Ctrl-C
    python -m devstack.run --smoke    start, walk the newcomer's first steps over HTTP, stop

Every URL already in the environment wins over a bundled server. Logs: .var/run/logs/<process>.log.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from ._proc import send_signal, spawn, wait_or_kill
from .servers import Stack

REPO = Path(__file__).resolve().parent.parent
PROCESSES = REPO / "deploy" / "processes.toml"


def load_processes(path: Path = PROCESSES) -> dict[str, Any]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# secrets the services require and that have no default outside the local run: made once per
# local data folder and kept there (production sets them; deploy/.env.example says how to make them)
LOCAL_SECRETS = {
    "PERSON_HASH_SECRET": lambda: secrets.token_urlsafe(32),
    "PERSONAL_CODE_KEY": _fernet_key,
    "NOTIFICATIONS_WEBHOOK_KEY": _fernet_key,
    "ACCOUNT_LINK_SECRET": lambda: secrets.token_urlsafe(32),
    "PORTAL_SECRET_KEY": lambda: secrets.token_urlsafe(32),
}


def local_secrets(root: Path) -> dict[str, str]:
    path = root / "local-secrets.json"
    try:
        values: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        values = {}
    missing = {k: make() for k, make in LOCAL_SECRETS.items() if not values.get(k)}
    if missing:
        values.update(missing)
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=1))
        path.chmod(0o600)
    return values


def expand(command: list[str]) -> list[str]:
    return [sys.executable if part == "{python}" else part for part in command]


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)
    log_offset: int = 0  # where this start's output begins in the log (earlier starts' lines come before)

    def start(self) -> None:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = spawn(self.command, log=self.log, cwd=REPO, env=self.env)
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            send_signal(self.proc.pid, signal.SIGTERM)
            wait_or_kill(self.proc, 20)


class Launcher:
    """Servers, jobs and processes of one run. `fast` is for tests only (the stack's postgres without fsync)."""

    def __init__(self, root: Path, env: dict[str, str], *, fast: bool = False) -> None:
        self.root = root
        self.base_env = env
        self.spec = load_processes()
        self.stack = Stack(root / "servers", env=env, fast=fast)
        self.children: list[Child] = []
        self.urls: dict[str, str] = {}
        # supervise() may run in another thread (the end-to-end tests) while processes are stopped or restarted
        self.lock = threading.RLock()
        self.stopping = False

    def start(self) -> dict[str, str]:
        """Servers, databases, jobs, the first admin, every process; returns the env once all APIs are ready."""
        env = self.prepare()
        self.run_jobs(env, then={"identity": lambda: self.create_admin(env)})
        self.start_processes(env)
        self.wait_ready()
        return env

    def prepare(self) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(self.stack.start())
        for key, value in local_secrets(self.root).items():
            env.setdefault(key, value)
        env.setdefault("LOG_FORMAT", "json")
        for svc, conf in self.spec["services"].items():
            key = f"{svc.upper()}_DATABASE_URL"
            if conf.get("database") and not env.get(key):
                env[key] = self.stack.create_database(svc)
            port = int(env.get(conf["port_env"]) or free_port())
            env[conf["port_env"]] = str(port)
            env.setdefault(conf["public_url_env"], f"http://127.0.0.1:{port}")
            self.urls[svc] = env[conf["public_url_env"]]
        if "portal" in self.urls:
            # e-mails link to the portal's pages; the local run serves plain http on loopback
            env.setdefault("NOTIFICATIONS_LINK_BASE_URL", self.urls["portal"])
            env.setdefault("PORTAL_SECURE_COOKIES", "false")
        prom = self.root / "prometheus"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True)
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(prom))
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self._write_env_file(env)
        return env

    def _write_env_file(self, env: dict[str, str]) -> None:
        """Leave the URLs of this run in .var/run/env.sh, for a shell (`source`) or a CLI."""
        keys = [*self.stack.env(), *(f"{s.upper()}_DATABASE_URL" for s in self.spec["services"])]
        keys += [c[k] for c in self.spec["services"].values() for k in ("port_env", "public_url_env")]
        lines = [f"export {k}={shlex.quote(env[k])}" for k in dict.fromkeys(keys) if env.get(k)]
        path = self.root / "env.sh"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)

    def run_jobs(self, env: dict[str, str], then: dict[str, Callable[[], None]] | None = None) -> None:
        """Each service's jobs in their order; the services side by side (they share nothing).
        `then[service]` runs after that service's jobs, in its turn (the first admin, once identity is migrated)."""
        from concurrent.futures import ThreadPoolExecutor

        by_service: dict[str, list[dict[str, Any]]] = {}
        for job in self.spec.get("jobs", []):
            by_service.setdefault(job.get("service", ""), []).append(job)

        def run(service: str, jobs: list[dict[str, Any]]) -> None:
            for job in jobs:
                print(f"· {job['name']}", flush=True)
                subprocess.run(expand(job["command"]), cwd=REPO, env=env, check=True)
            if then and service in then:
                then[service]()

        with ThreadPoolExecutor(max_workers=len(by_service) or 1) as pool:
            for done in [pool.submit(run, service, jobs) for service, jobs in by_service.items()]:
                done.result()  # the first failure stops the start, as before

    def create_admin(self, env: dict[str, str]) -> None:
        env = {**env, "IDENTITY_ADMIN_EMAIL": env.get("IDENTITY_ADMIN_EMAIL", "admin@pumpurs.local")}
        subprocess.run([sys.executable, "-m", "services.identity.cli", "create-admin"], cwd=REPO, env=env, check=True)

    def start_processes(self, env: dict[str, str]) -> None:
        for proc in self.spec["processes"]:
            penv = dict(env)
            if proc.get("kind") in ("api", "web"):
                conf = self.spec["services"][proc["service"]]
                penv.update(PORT=env[conf["port_env"]], HOST="127.0.0.1")
            child = Child(proc["name"], expand(proc["command"]), penv, self.root / "logs" / f"{proc['name']}.log")
            child.start()
            self.children.append(child)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for svc, url in self.urls.items():
            while True:
                try:
                    if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{svc} is not ready at {url}; see {self.root / 'logs'}")
                self.supervise()
                time.sleep(0.3)

    def supervise(self) -> None:
        """Restart a bundled server or a process that died, on the server's port with its data, and the process
        with a growing pause (workers must survive broker restarts); say so each time."""
        with self.lock:
            if self.stopping:
                return
            for server in self.stack.revive():
                if server.error is None:
                    print(
                        f"! {server.name} exited ({server.exit_code}); restarted on port {server.port} with its data"
                        f" (log: {server.log})",
                        flush=True,
                    )
                else:
                    print(
                        f"! {server.name} exited ({server.exit_code}); restarting it failed, trying again in"
                        f" {server.retry_in:.0f} s: {server.error} (log: {server.log})",
                        flush=True,
                    )
            now = time.monotonic()
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    if now - child.started_at > 60:
                        child.restarts = 0
                    child.restarts += 1
                    child.next_start = now + min(30.0, 0.5 * 2**child.restarts)
                    print(f"! {child.name} exited ({child.proc.returncode}); restarting (log: {child.log})", flush=True)
                    child.proc = None
                if child.proc is None and now >= child.next_start:
                    child.start()

    def supervise_until(self, done: threading.Event, interval: float = 1.0) -> None:
        """supervise() every `interval` seconds until `done` is set (the run's main loop, or a test's thread)."""
        while not done.wait(interval):
            self.supervise()

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def restart(self, names: list[str], env: dict[str, str] | None = None) -> None:
        """Stop these processes (all first, then wait) and start them again, with `env` added to theirs."""
        with self.lock:
            chosen = [self.child(n) for n in names]
            for child in chosen:
                if child.proc is not None and child.proc.poll() is None:
                    send_signal(child.proc.pid, signal.SIGTERM)
            for child in chosen:
                child.stop()
                child.env.update(env or {})
                child.restarts, child.next_start = 0, 0.0
                child.start()

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for child in reversed(self.children):
                if child.proc is not None and child.proc.poll() is None:
                    send_signal(child.proc.pid, signal.SIGTERM)  # all at once, then wait for each
            for child in reversed(self.children):
                child.stop()
            self.children.clear()
        self.stack.stop()

    def summary(self, env: dict[str, str]) -> str:
        lines = [""]
        if "portal" in self.urls:
            portal = self.urls["portal"]
            lines += [f"Open {portal} / Atveriet {portal}", ""]
        lines.append("PuMPuRS is running / PuMPuRS darbojas:")
        for svc, url in self.urls.items():
            if svc == "portal":
                admin = env.get("IDENTITY_ADMIN_EMAIL", "admin@pumpurs.local")
                lines.append(f"  {svc:<14} web {url}   (log in as {admin})")
            else:
                lines.append(f"  {svc:<14} API {url}   docs {url}/docs")
        lines += [
            f"  {'mail':<14} SMTP {env.get('SMTP_HOST')}:{env.get('SMTP_PORT')}"
            + (f"   messages saved in {env['SMTP_SINK_DIR']}" if env.get("SMTP_SINK_DIR") else ""),
            f"  {'S3':<14} {env.get('S3_ENDPOINT_URL')}",
            f"  {'logs':<14} {self.root / 'logs'}",
            f"  {'URLs':<14} source {self.root / 'env.sh'}",
            "  Ctrl-C stops everything. / Ctrl-C aptur visu.",
        ]
        return "\n".join(lines)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def smoke(urls: dict[str, str], env: dict[str, str]) -> None:
    """The newcomer's first steps, over HTTP: admin login, a municipality, a school, a coordinator."""
    base = urls["identity"]
    password = env.get("IDENTITY_ADMIN_PASSWORD")
    if not password:
        raise SystemExit("--smoke needs IDENTITY_ADMIN_PASSWORD")
    email = env.get("IDENTITY_ADMIN_EMAIL", "admin@pumpurs.local")
    token = _ok(requests.post(f"{base}/auth/login", json={"email": email, "password": password}, timeout=10))
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    suffix = str(time.time_ns())[-9:]
    tenant = _ok(
        requests.post(
            f"{base}/tenants",
            headers=auth,
            timeout=10,
            json={
                "kind": "municipality",
                "name": f"Smoke novads {suffix}",
                "registration_number": f"90{suffix}",
                "region": "zemgale",
                "student_count": 500,
            },
        )
    )
    school = _ok(
        requests.post(
            f"{base}/tenants/{tenant['id']}/schools",
            headers=auth,
            timeout=10,
            json={"name": f"Smoke pamatskola {suffix}", "registration_number": f"40{suffix}", "student_count": 120},
        )
    )
    coord_email = f"koordinators{suffix}@smoke.test"
    _ok(
        requests.post(
            f"{base}/users",
            headers=auth,
            timeout=10,
            json={
                "email": coord_email,
                "full_name": "Smoke Koordinators",
                "tenant_id": tenant["id"],
                "password": "coordinator-password-1",
                "roles": [{"role": "school_coordinator", "tenant_id": tenant["id"], "school_id": school["id"]}],
            },
        )
    )
    coord = _ok(
        requests.post(
            f"{base}/auth/login", timeout=10, json={"email": coord_email, "password": "coordinator-password-1"}
        )
    )
    me = _ok(requests.get(f"{base}/auth/me", timeout=10, headers={"Authorization": f"Bearer {coord['access_token']}"}))
    assert me["roles"][0]["role"] == "school_coordinator", me
    print("smoke: admin login, municipality, school, coordinator and coordinator login all work", flush=True)
    if "portal" in urls:
        page = requests.get(f"{urls['portal']}/login", timeout=10)
        if page.status_code != 200 or "Pieteikties" not in page.text:
            raise RuntimeError(f"the portal's login page answered {page.status_code}")
        print("smoke: the portal's login page is served (in Latvian)", flush=True)
    if "documents" in urls and "finance" in urls:
        _upload_reaches_a_verdict(urls["documents"], coord["access_token"])


def _png() -> bytes:
    """A valid 1×1 PNG, made here (chunks with their CRCs), so the smoke needs no file of its own."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _upload_reaches_a_verdict(documents: str, token: str) -> None:
    """An expense document for a plan finance does not know: uploaded, checked, and given a verdict."""
    auth = {"Authorization": f"Bearer {token}"}
    month = time.strftime("%Y-%m")
    fields = {
        "kind": "transport_ticket",
        "student_id": str(uuid.uuid4()),
        "plan_id": str(uuid.uuid4()),
        "category": "public_transport",
        "month": month,
        "amount": "4.20",
    }
    up = _ok(
        requests.post(
            f"{documents}/documents",
            headers=auth,
            data=fields,
            timeout=30,
            files={"file": ("bilete.png", _png(), "image/png")},
        )
    )
    doc_id = up["id"]
    deadline = time.monotonic() + 90
    status = up["status"]
    while status in ("received", "queued", "checking") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = _ok(requests.get(f"{documents}/documents/{doc_id}", headers=auth, timeout=10))["status"]
    if status in ("received", "queued", "checking"):
        raise RuntimeError(f"the upload {doc_id} got no verdict in 90 s (status {status})")
    print(f"smoke: an upload reached finance's verdict ({status})", flush=True)


def _ok(resp: requests.Response) -> Any:
    if resp.status_code >= 300:
        raise RuntimeError(f"{resp.request.method} {resp.url} -> {resp.status_code}: {resp.text[:500]}")
    return resp.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.run")
    parser.add_argument("--root", type=Path, default=REPO / ".var" / "run")
    parser.add_argument("--smoke", action="store_true", help="start, check the first steps, stop")
    args = parser.parse_args(argv)
    # Ctrl-C stops everything even when started from a shell that ignores SIGINT for background jobs
    # (Python then installs no handler of its own), and so do SIGTERM and a closed terminal
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    launcher = Launcher(args.root.resolve(), dict(os.environ))
    try:
        env = launcher.start()
        print(launcher.summary(env), flush=True)
        if args.smoke:
            smoke(launcher.urls, env)
            return 0
        launcher.supervise_until(threading.Event())  # until Ctrl-C or SIGTERM
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping… / aptur…", flush=True)
        launcher.stop()
        print("stopped / apturēts", flush=True)


if __name__ == "__main__":
    sys.exit(main())
