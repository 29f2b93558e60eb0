"""Documents as deployed: gunicorn, the real worker's task list, migrations, the bucket set up on the bundled
S3 server, and tokens verified over identity's JWKS URL (identity under gunicorn too)."""

from __future__ import annotations

import importlib
import io
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from services.common import migrate
from services.common.contracts import CONTRACT
from services.documents.storage import LIFECYCLE_RULE_ID, Storage
from tests.conftest import REPO, log_path
from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support.workers import wait_for
from tests.unit.documents import samples

pytestmark = pytest.mark.integration


def test_the_worker_registers_only_contract_tasks_on_the_documents_queue(documents_settings, monkeypatch):
    monkeypatch.setenv("DOCUMENTS_DATABASE_URL", documents_settings.database_url)
    celery = importlib.import_module("services.documents.worker").celery
    ours = {name: task for name, task in celery.tasks.items() if not name.startswith("celery.")}
    assert set(ours) == {"documents.set_review_status", "documents.register_statement", "documents.sweep_uploads"}
    for name, task in ours.items():
        assert CONTRACT.get(name).queue == "documents" == task.queue
        assert task.acks_late and task.reject_on_worker_lost
    assert CONTRACT.schedules["documents-sweep-uploads"] == ("documents.sweep_uploads", 300.0)


def test_the_migrations_match_the_models(documents_settings):
    migrate.check("documents", documents_settings.database_url)


def test_the_bucket_is_set_up_with_versioning_object_lock_and_the_multipart_rule(documents_settings):
    storage = Storage(documents_settings.replace(bucket=f"setup-{uuid.uuid4().hex[:8]}"))
    first = storage.ensure_bucket()
    assert first.created and first.versioning == "Enabled" and first.object_lock and first.lifecycle == "added"
    again = storage.ensure_bucket()
    assert not again.created and again.lifecycle == "present" and again.versioning == "Enabled"
    rules = storage.client.get_bucket_lifecycle(storage.bucket).rules
    [rule] = [r for r in rules if r.rule_id == LIFECYCLE_RULE_ID]
    assert rule.abort_incomplete_multipart_upload.days_after_initiation == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture()
def servers(identity_settings, documents_settings, client, documents) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    """identity and documents under gunicorn on free ports; documents fetches identity's JWKS over HTTP."""
    ports = {"identity": _free_port(), "documents": _free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    s = documents_settings
    env = {
        **os.environ,
        "REDIS_URL": s.broker_url,
        "JWT_ISSUER": s.jwt_issuer,
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
        "IDENTITY_DATABASE_URL": identity_settings.database_url,
        "ACCOUNT_LINK_SECRET": identity_settings.account_link_secret,
        "DOCUMENTS_DATABASE_URL": s.database_url,
        "JWKS_URL": f"{urls['identity']}/.well-known/jwks.json",
        "S3_ENDPOINT_URL": s.s3_endpoint_url,
        "S3_ACCESS_KEY": s.s3_access_key,
        "S3_SECRET_KEY": s.s3_secret_key,
        "DOCUMENTS_BUCKET": s.bucket,
        "DOCUMENTS_PRESIGN_MINUTES": "1",
    }
    procs = []
    for name in ("identity", "documents"):
        log = open(log_path(f"{name}-gunicorn"), "ab")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", f"services.{name}.wsgi:app"],
                cwd=REPO,
                env={**env, "PORT": str(ports[name])},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        log.close()
    try:
        for url in urls.values():
            wait_for(lambda u=url: _ready(u), timeout=60, interval=0.3, message=f"{url} to be ready")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)


def test_over_http_a_coordinator_uploads_downloads_and_loses_access_on_logout(servers, world):
    tenant = world.tenant()
    school = world.school(tenant)
    user = world.user(tenant, {"role": "school_coordinator", "tenant_id": tenant["id"], "school_id": school})
    tokens = requests.post(
        f"{servers['identity']}/auth/login", timeout=10, json={"email": user["email"], "password": user["password"]}
    ).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    data = samples.pdf(marker="http")
    form = {
        "kind": "invoice",
        "student_id": str(uuid.uuid4()),
        "plan_id": str(uuid.uuid4()),
        "category": "meals",
        "month": "2026-10",
        "amount": "7.20",
    }
    resp = requests.post(
        f"{servers['documents']}/documents",
        headers=auth,
        data=form,
        timeout=30,
        files={"file": ("rēķins.pdf", io.BytesIO(data), "application/octet-stream")},
    )
    assert resp.status_code == 201, resp.text
    doc_id = resp.json()["id"]
    link = requests.get(f"{servers['documents']}/documents/{doc_id}/download", headers=auth, timeout=10).json()
    assert requests.get(link["url"], timeout=10).content == data
    admin = requests.post(
        f"{servers['identity']}/auth/login", timeout=10, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).json()
    assert (
        requests.get(
            f"{servers['documents']}/documents/{doc_id}",
            timeout=10,
            headers={"Authorization": f"Bearer {admin['access_token']}"},
        ).status_code
        == 200
    )
    assert requests.post(f"{servers['identity']}/auth/logout", headers=auth, json={}, timeout=10).status_code == 204
    after = requests.get(f"{servers['documents']}/documents/{doc_id}", headers=auth, timeout=10)
    assert after.status_code == 401 and after.json()["code"] == "session_revoked"
    forged = requests.get(
        f"{servers['documents']}/documents",
        timeout=10,
        headers={"Authorization": "Bearer " + tokens["access_token"][:-4] + "AAAA"},
    )
    assert forged.status_code == 401


def _answer_while_sending(url: str, head: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Send the request line, headers and only `body` (a part of what they announce) over a socket, then read
    the answer: it can come only if the server answered without reading the rest."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection without an answer: {raw!r}"
            raw += chunk
        header_block, _, rest = raw.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(rest) < int(headers.get("content-length", "0")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(lines[0].split()[1]), headers, json.loads(rest)


def test_a_body_over_the_limit_is_refused_413_before_it_is_read_under_gunicorn(servers):
    """Issue 13: a 20 MB JSON body was read whole, then refused with 422; every service answers 413 first."""
    twenty_mb = 20 * 1024 * 1024
    sent = b'{"email": "' + b"a" * (64 * 1024)  # 64 KiB of the 20 MiB announced; the rest never comes
    status, headers, problem = _answer_while_sending(
        servers["identity"],
        f"POST /auth/login HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: {twenty_mb}\n",
        sent,
    )
    assert status == 413 and headers["content-type"] == "application/problem+json"
    assert problem["code"] == "payload_too_large" and problem["max_bytes"] == 1024 * 1024 and problem["detail_lv"]
    # a body with no length (chunked) is cut off as soon as it passes the limit, not read to its end
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b'{"email": "' + b"a" * 65536] * 17)
    status, _, problem = _answer_while_sending(
        servers["identity"],
        "POST /auth/login HTTP/1.1\nHost: x\nContent-Type: application/json\nTransfer-Encoding: chunked\n",
        chunks,  # 1.1 MiB and no last chunk: the body has no end
    )
    assert status == 413 and problem["code"] == "payload_too_large", problem
    # an upload has its own, larger limit, and the same answer past it, with the file's limit in it
    status, _, problem = _answer_while_sending(
        servers["documents"],
        "POST /documents HTTP/1.1\nHost: x\nContent-Type: multipart/form-data; boundary=b\n"
        f"Content-Length: {5 * twenty_mb}\n",
        b"--b\r\n" + bytes(64 * 1024),
    )
    assert status == 413 and problem["code"] == "file_too_large" and problem["max_bytes"] == twenty_mb
    # within the limit the body is read as before: a JSON body that is not JSON is a 400, not a 413
    small = requests.post(
        f"{servers['documents']}/documents?x=1", data=b"{", timeout=10, headers={"Content-Type": "application/json"}
    )
    assert small.status_code == 401  # judged by its token first, and the body is small enough to be let in
