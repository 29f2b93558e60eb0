"""Integration tests for devstack: real bundled servers started under tmp dirs."""

from __future__ import annotations

import io
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import psutil
import pytest

from devstack import ServerStartError, Stack
from devstack.smtp_sink import read_messages

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (psutil.Error, ProcessLookupError):
            pass
    return members


def _wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p) or _group_members(p)]
        if not left:
            return []
        time.sleep(0.1)
    return left


def _minio(env: dict[str, str], with_keys: bool = True):  # type: ignore[no-untyped-def]
    from minio import Minio

    host = env["S3_ENDPOINT_URL"].removeprefix("http://")
    if with_keys:
        return Minio(host, access_key=env["S3_ACCESS_KEY"], secret_key=env["S3_SECRET_KEY"], secure=False)
    return Minio(host, secure=False)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("stack"), env={}, fast=True) as s:
        yield s


def test_env_vars(bundled: Stack) -> None:
    env = bundled.env()
    assert set(env) == {
        "POSTGRES_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY",
        "SMTP_HOST", "SMTP_PORT", "SMTP_SINK_DIR",
    }  # fmt: skip
    assert env["POSTGRES_URL"].startswith("postgresql://postgres:")
    assert env["POSTGRES_URL"].endswith("/postgres")
    assert env["REDIS_URL"].startswith("redis://127.0.0.1:")
    assert bundled.start() == env  # idempotent
    assert Path(env["SMTP_SINK_DIR"]).is_relative_to(bundled.root)


def test_postgres_query_and_create_database(bundled: Stack) -> None:
    import psycopg

    env = bundled.env()
    with psycopg.connect(env["POSTGRES_URL"]) as conn:
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)

    url = bundled.create_database("app_test")
    assert url == env["POSTGRES_URL"].rsplit("/", 1)[0] + "/app_test"
    assert bundled.create_database("app_test") == url  # already there: no error
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("app_test",)

    # Password auth is enforced on TCP.
    bad = env["POSTGRES_URL"].replace("postgres:", "postgres:wrong", 1)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(bad, connect_timeout=5).close()


def test_redis_set_get_and_config(bundled: Stack) -> None:
    import redis

    client = redis.Redis.from_url(bundled.env()["REDIS_URL"])
    client.set("greeting", "hello")
    assert client.get("greeting") == b"hello"
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    client.close()


def test_s3_roundtrip_and_anonymous_refused(bundled: Stack) -> None:
    from minio.error import S3Error

    env = bundled.env()
    client = _minio(env)
    client.make_bucket("devstack-test")
    client.put_object("devstack-test", "dir/hello.txt", io.BytesIO(b"hello s3"), 8)
    response = client.get_object("devstack-test", "dir/hello.txt")
    try:
        assert response.read() == b"hello s3"
    finally:
        response.close()
        response.release_conn()
    assert [b.name for b in client.list_buckets()] == ["devstack-test"]

    anonymous = _minio(env, with_keys=False)
    for call in (
        anonymous.list_buckets,
        lambda: anonymous.get_object("devstack-test", "dir/hello.txt").read(),
        lambda: anonymous.put_object("devstack-test", "x", io.BytesIO(b"x"), 1),
    ):
        with pytest.raises(S3Error) as info:
            call()
        assert info.value.code == "AccessDenied"

    with pytest.raises(S3Error) as info:  # -s3.allowDeleteBucketNotEmpty=false
        client.remove_bucket("devstack-test")
    assert info.value.code == "BucketNotEmpty"


def test_smtp_roundtrip(bundled: Stack) -> None:
    env = bundled.env()
    for n in range(3):
        msg = EmailMessage()
        msg["From"] = "app@example.test"
        msg["To"] = "user@example.test"
        msg["Subject"] = f"Hello {n} ✓"
        msg.set_content(f"body {n}\n")
        with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"]), timeout=10) as client:
            client.send_message(msg, to_addrs=["user@example.test", "hidden@example.test"])
    messages = read_messages(env["SMTP_SINK_DIR"])
    assert [m["Subject"] for m in messages] == ["Hello 0 ✓", "Hello 1 ✓", "Hello 2 ✓"]
    assert messages[0]["X-Envelope-To"] == "user@example.test, hidden@example.test"
    assert messages[2].get_content() == "body 2\n"
    assert not list(Path(env["SMTP_SINK_DIR"]).glob(".*"))  # no temp files left behind


def test_redis_restart_keeps_port_and_data(bundled: Stack) -> None:
    import redis

    url = bundled.env()["REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.set("durable", "yes")
    client.close()
    old_pid = bundled.pids()["redis"]

    bundled.stop_server("redis")
    assert "redis" not in bundled.pids()
    assert _wait_gone([old_pid]) == []
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()

    bundled.start_server("redis")
    assert bundled.env()["REDIS_URL"] == url
    assert bundled.pids()["redis"] != old_pid
    client = redis.Redis.from_url(url)
    assert client.get("durable") == b"yes"  # replayed from the AOF
    client.close()


def test_the_launcher_restarts_a_bundled_server_that_died_on_its_port_with_its_data_and_says_so(
    bundled: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 of each bundled server's process group while `make run` supervises: the next round starts each
    again on its port with its data and prints so; a server stopped on purpose is left alone."""
    import psycopg
    import redis

    from devstack.run import Launcher

    launcher = Launcher(tmp_path / "run", {})
    launcher.stack = bundled  # the launcher's round over this module's servers (no service processes)
    env = bundled.env()
    redis.Redis.from_url(env["REDIS_URL"]).set("survives", "kill -9")
    s3 = _minio(env)
    s3.make_bucket("survives")
    s3.put_object("survives", "object", io.BytesIO(b"bytes"), 5)
    database = bundled.create_database("survives")
    time.sleep(1.5)  # Redis writes its append-only file every second
    before = bundled.pids()
    for pid in before.values():
        os.killpg(pid, signal.SIGKILL)
    assert _wait_gone(list(before.values())) == []

    launcher.supervise()
    out = capsys.readouterr().out
    for name in ("postgres", "redis", "s3", "smtp"):
        assert f"! {name} exited (-9); restarted on port " in out, out
    after = bundled.pids()
    assert set(after) == set(before) and all(after[n] != before[n] for n in before)
    assert bundled.env() == env
    assert redis.Redis.from_url(env["REDIS_URL"]).get("survives") == b"kill -9"
    assert s3.get_object("survives", "object").read() == b"bytes"
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("survives",)
    launcher.supervise()
    assert capsys.readouterr().out == ""  # nothing died meanwhile

    bundled.stop_server("smtp")  # on purpose: not the supervisor's to undo
    launcher.supervise()
    assert "smtp" not in bundled.pids() and capsys.readouterr().out == ""
    bundled.start_server("smtp")


def test_start_server_reports_port_in_use(bundled: Stack) -> None:
    port = int(bundled.env()["SMTP_PORT"])
    bundled.stop_server("smtp")
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        with pytest.raises(ServerStartError) as info:
            bundled.start_server("smtp")
        assert "smtp failed to start" in str(info.value)
        assert "address already in use" in str(info.value).lower()  # the log tail is included
    finally:
        blocker.close()
    bundled.start_server("smtp")
    assert bundled.env()["SMTP_PORT"] == str(port)


def test_external_url_is_passed_through(tmp_path: Path) -> None:
    external = "redis://redis.example.invalid:6380/3"
    s = Stack(tmp_path / "ext", want=("redis",), env={"REDIS_URL": external})
    assert s.start() == {"REDIS_URL": external}
    assert s.pids() == {}
    assert not (tmp_path / "ext").exists()  # nothing bundled, nothing written
    with pytest.raises(ValueError):
        s.stop_server("redis")
    s.stop()


def test_stop_leaves_no_process_and_data_survives(tmp_path: Path, bundled: Stack) -> None:
    # Runs next to the module's stack, so this also shows two stacks coexist.
    root = tmp_path / "life"
    s = Stack(root, env={}, fast=True)
    first = s.start()
    assert set(first.values()).isdisjoint(set(bundled.env().values()) - {"127.0.0.1"})
    url = s.create_database("kept")
    pids = list(s.pids().values())
    assert len(pids) == 4
    s.stop()
    s.stop()  # idempotent
    assert s.pids() == {}
    assert _wait_gone(pids, timeout=1) == []
    assert not list(root.glob("*.pid"))

    second = Stack(root, env={}, fast=True)
    try:
        again = second.start()
        assert again == first  # same ports (still free) and same persisted credentials
        import psycopg

        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("kept",)
    finally:
        second.stop()


def test_stale_process_from_crashed_run_is_replaced(tmp_path: Path) -> None:
    root = tmp_path / "stale"
    crashed = Stack(root, want=("redis",), env={})
    crashed.start()
    stale_pid = crashed.pids()["redis"]
    fresh = Stack(root, want=("redis",), env={})
    with pytest.raises(RuntimeError, match="in use by another running devstack"):
        fresh.start()
    # Simulate the owner crashing: its root lock goes away, its redis stays.
    assert crashed._root_lock is not None
    os.close(crashed._root_lock)
    crashed._root_lock = None
    try:
        fresh.start()
        assert _wait_gone([stale_pid]) == []
        assert fresh.pids()["redis"] != stale_pid
        assert int((root / "redis.pid").read_text()) == fresh.pids()["redis"]
    finally:
        fresh.stop()
        crashed.stop()


_CHILD = """
import json, sys, time
from devstack import Stack
s = Stack(sys.argv[1], env={}, fast=True)
s.start()
print(json.dumps(s.pids()), flush=True)
time.sleep(600)
"""


def test_children_die_with_their_parent(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    parent = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path / "orphans")],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pids = list(json.loads(parent.stdout.readline()).values())
        assert len(pids) == 4
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert _wait_gone(pids, timeout=20) == []
    # Nobody ran stop(): remove the /tmp gRPC sockets weed leaves even on SIGTERM.
    ports = json.loads((tmp_path / "orphans" / "ports.json").read_text())
    for port in (port for key, port in ports.items() if key.startswith("s3.")):
        for sock in Path("/tmp").glob(f"seaweedfs-*-{port + 10000}.sock"):
            sock.unlink(missing_ok=True)


def test_cli_up_prints_exports_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    pids: list[int] = []
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up", "--root", str(tmp_path / "cli"), "--only", "redis,smtp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in env.items() if k not in ("REDIS_URL", "SMTP_HOST")},
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        assert [line.split("=", 1)[0] for line in lines] == [
            "export REDIS_URL", "export SMTP_HOST", "export SMTP_PORT", "export SMTP_SINK_DIR",
        ]  # fmt: skip
        pids = [int(p.read_text()) for p in (tmp_path / "cli").glob("*.pid")]
        assert len(pids) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _wait_gone(pids, timeout=1) == []
    assert not list((tmp_path / "cli").glob("*.pid"))
