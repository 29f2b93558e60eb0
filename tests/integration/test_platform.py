"""Platform-wide guarantees: the task registry matches the contract, migrations match the models,
OpenAPI documents are current, tokens verify over a real JWKS URL, and `make run` comes up."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from services.common import migrate, openapi
from services.common.auth import JwksKeySource, TokenVerifier
from services.common.contracts import CONTRACT
from services.common.errors import Unauthenticated
from tests.conftest import REPO, log_path
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration

WORKERS = {
    "identity": "services.identity.worker",
    "plans": "services.plans.worker",
    "documents": "services.documents.worker",
}


def test_every_registered_task_is_in_the_contract_on_its_own_queue(identity_settings, monkeypatch):
    # the worker modules build their settings from the environment; nothing connects here
    for service in WORKERS:
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", identity_settings.database_url)
    monkeypatch.setenv("PERSON_HASH_SECRET", "x")
    monkeypatch.setenv("ACCOUNT_LINK_SECRET", "x")
    monkeypatch.setenv("PERSONAL_CODE_KEY", "x")
    for service, module in WORKERS.items():
        worker = importlib.import_module(module)
        celery, conf = worker.celery, worker.runtime.settings
        short = (conf.task_soft_time_limit, conf.task_time_limit)
        ours = {name: task for name, task in celery.tasks.items() if not name.startswith("celery.")}
        assert ours, f"{service} registers no task"
        for name, task in ours.items():
            spec = CONTRACT.get(name)
            assert spec.service == service and spec.queue == task.queue
            # each kind its own time limits: the long lane's (statements, re-checks, reminders) or the short one's
            limits = (conf.long_task_soft_time_limit, conf.long_task_time_limit) if spec.long else short
            assert (task.soft_time_limit, task.time_limit) == limits, name
            assert task.contract is spec and spec.schema is not None
            assert task.acks_late and task.reject_on_worker_lost
        assert celery.conf.task_create_missing_queues is False
        assert celery.conf.accept_content == ["json"]
        # a lost worker's messages come back within the visibility timeout and a sweep (live ones renew theirs)
        assert celery.conf.broker_transport_options["visibility_timeout"] >= 3 * conf.broker_restore_interval


def test_the_migrations_match_the_models(identity_settings):
    migrate.check("identity", identity_settings.database_url)


def test_the_committed_openapi_documents_are_current():
    for service in openapi.services_with_api():
        committed = (openapi.DOCS / f"{service}.json").read_text()
        assert committed == openapi.render(openapi.spec_of(service)), "run `make openapi` and commit"


@pytest.fixture()
def identity_server(identity_settings, client) -> Any:  # type: ignore[no-untyped-def]
    """identity under gunicorn, as deployed, on a free port."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "IDENTITY_DATABASE_URL": identity_settings.database_url,
        "REDIS_URL": identity_settings.broker_url,
        "JWT_ISSUER": identity_settings.jwt_issuer,
        "ACCOUNT_LINK_SECRET": identity_settings.account_link_secret,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    log = open(log_path("identity-gunicorn"), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "services.identity.wsgi:app"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), timeout=30, message="identity under gunicorn")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_another_service_verifies_identity_tokens_through_the_jwks_url_across_a_rotation(
    identity_server, identity_settings
):
    from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    verifier = TokenVerifier(
        JwksKeySource(f"{identity_server}/.well-known/jwks.json", cache_seconds=300),
        identity_settings.jwt_issuer,
        "pumpurs",
    )
    login = requests.post(
        f"{identity_server}/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=10
    ).json()
    old = login["access_token"]
    assert verifier.verify(old)["sub"]
    rotated = requests.post(f"{identity_server}/keys/rotate", timeout=10, headers={"Authorization": f"Bearer {old}"})
    assert rotated.status_code == 201
    time.sleep(5.1)  # the verifier refetches for an unknown kid at most every 5 s
    new = requests.post(
        f"{identity_server}/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=10
    ).json()["access_token"]
    assert verifier.verify(new)["sub"] == verifier.verify(old)["sub"]  # both keys verify
    with pytest.raises(Unauthenticated):
        TokenVerifier(verifier.key_source, "http://other-issuer.test", "pumpurs").verify(new)


@pytest.mark.slow
def test_make_run_comes_up_the_first_steps_work_and_ctrl_c_leaves_nothing_running(tmp_path: Path):
    """`python -m devstack.run` (what `make run` runs): servers, migrations, the first admin, every process;
    then the newcomer's steps over HTTP (admin → municipality → school → coordinator → login → an upload
    reaching finance's verdict) against the running platform; then Ctrl-C stops every process it started."""
    import signal

    import psutil

    from devstack.run import smoke

    env = _env_without_server_urls()
    env["IDENTITY_ADMIN_PASSWORD"] = "make-run-admin-password"
    root = tmp_path / "run"
    out = tmp_path / "launcher.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack.run", "--root", str(root)],
            cwd=REPO,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: "darbojas" in out.read_text() or proc.poll() is not None,
            timeout=180,
            message="the launcher to come up",
        )
        assert proc.poll() is None, out.read_text()[-3000:]
        text = out.read_text()
        assert "docs http://127.0.0.1:" in text
        urls = _urls_from_env_file(root / "env.sh")
        assert set(urls) == {"identity", "plans", "documents", "finance", "notifications", "portal"}, urls
        # the summary opens with where to go in a browser
        lines = text.splitlines()
        heading = lines.index("PuMPuRS is running / PuMPuRS darbojas:")
        opening = [line for line in lines[:heading] if line.strip()][-1]
        assert opening == f"Open {urls['portal']} / Atveriet {urls['portal']}", lines[heading - 3 : heading + 2]
        smoke(urls, env)  # raises on any step that fails; the upload must reach a verdict

        descendants = psutil.Process(proc.pid).children(recursive=True)
        names = {" ".join(p.cmdline()[:6]) for p in descendants}
        assert any("gunicorn" in n for n in names) and any("celery" in n for n in names), names
        proc.send_signal(signal.SIGINT)
        assert proc.wait(180) == 0  # a graceful stop of eleven processes; slow on a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "apturēts" in out.read_text()
    alive = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left running after Ctrl-C: {alive}"
    leftover = subprocess.run(["pgrep", "-f", str(root)], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "processes left running after the launcher stopped"


def _urls_from_env_file(path: Path) -> dict[str, str]:
    """The service URLs the launcher leaves in env.sh for a shell (`export PLANS_PUBLIC_URL=...`)."""
    import shlex

    urls = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        if key.endswith("_PUBLIC_URL"):
            urls[key.removesuffix("_PUBLIC_URL").lower()] = shlex.split(value)[0]
    return urls


def _env_without_server_urls() -> dict[str, str]:
    """The environment minus every server URL, so the launcher starts its own bundled servers."""
    external = ("POSTGRES_URL", "REDIS_URL", "S3_ENDPOINT_URL", "SMTP_HOST")
    return {k: v for k, v in os.environ.items() if k not in external and not k.endswith("_DATABASE_URL")}
