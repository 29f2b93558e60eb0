"""Documents as deployed: gunicorn, the real worker's task list, migrations, the bucket set up on the bundled
S3 server, and tokens verified over identity's JWKS URL (identity under gunicorn too)."""

from __future__ import annotations

import importlib
import io
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

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
