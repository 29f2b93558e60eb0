"""docker-compose.yml, the Dockerfile, .env.example and nginx.conf, read and checked against the process list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from devstack import compose
from devstack.run import load_processes
from services.common.contracts import CONTRACT
from services.common.settings import SERVICES

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SPEC = load_processes()
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES_IN_COMPOSE = COMPOSE["services"]
DOCKERFILE = (REPO / "deploy" / "Dockerfile").read_text()
ENV_EXAMPLE = (REPO / "deploy" / ".env.example").read_text()
NGINX = (REPO / "deploy" / "nginx.conf").read_text()
ONE_SHOT = {name for name, svc in SERVICES_IN_COMPOSE.items() if svc.get("restart") == "no"}


def test_the_committed_files_are_what_the_process_list_generates():
    assert compose.main(["check"]) == 0, "run `python -m devstack.compose write` and commit"


def test_every_process_and_job_runs_in_compose_with_the_same_command_and_nothing_else():
    expected = {p["name"]: p["command"] for p in [*SPEC["processes"], *SPEC.get("jobs", [])]}
    for name, command in expected.items():
        assert name in SERVICES_IN_COMPOSE, f"{name} is in deploy/processes.toml but not in docker-compose.yml"
        assert SERVICES_IN_COMPOSE[name]["command"] == ["python" if c == "{python}" else c for c in command]
    infra = {"postgres", "redis", "minio", "minio-init", "mailpit", "flower", "gateway"}
    extra = set(SERVICES_IN_COMPOSE) - set(expected) - infra
    assert not extra, f"in docker-compose.yml but not in deploy/processes.toml: {extra}"


def test_every_queue_has_a_worker_and_every_service_an_api_in_both_runs():
    workers = {p["queue"] for p in SPEC["processes"] if p["kind"] == "worker"}
    declared = {p["service"] for p in SPEC["processes"] if p["kind"] == "api"}
    # a queue that receives messages (a long lane too) needs a worker, once its service exists
    receiving = {spec.queue for spec in CONTRACT.tasks.values() if spec.service in declared}
    assert receiving <= workers, f"queues without a worker: {receiving - workers}"
    assert declared <= set(SERVICES)
    for svc in declared:
        assert f"{svc}-api" in SERVICES_IN_COMPOSE and f"{svc}-worker" in SERVICES_IN_COMPOSE
    assert any(p["kind"] == "scheduler" for p in SPEC["processes"])


def test_every_long_running_container_has_a_healthcheck_and_a_restart_policy():
    for name, svc in SERVICES_IN_COMPOSE.items():
        if name in ONE_SHOT:
            continue
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert svc.get("restart") == "unless-stopped", name


def test_dependencies_wait_for_health_and_for_jobs_to_finish():
    for name, svc in SERVICES_IN_COMPOSE.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in SERVICES_IN_COMPOSE, f"{name} depends on unknown {dep}"
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert cond == {"condition": wanted}, f"{name} -> {dep}"
    for p in SPEC["processes"]:
        if p.get("service") and SPEC["services"][p["service"]].get("database"):
            deps = SERVICES_IN_COMPOSE[p["name"]]["depends_on"]
            assert f"{p['service']}-migrate" in deps, f"{p['name']} starts before its migrations"


def test_every_image_is_pinned():
    images = {svc["image"] for svc in SERVICES_IN_COMPOSE.values()}
    images |= set(re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.M))
    for image in images:
        if image.startswith("${PUMPURS_IMAGE"):
            assert re.search(r":-[\w.-]+:\d+\.\d+\.\d+\}$", image), image
            continue
        assert ":" in image and not image.endswith(":latest"), f"{image} is not pinned"
        assert re.search(r":(v?\d+\.\d+(\.\d+)?[\w.-]*|RELEASE\.[\dT-]+Z)$", image) or "@sha256:" in image, image


def test_data_lives_in_named_volumes():
    named = set(COMPOSE["volumes"])
    for name in ("postgres", "redis", "minio", "mailpit"):
        mounts = SERVICES_IN_COMPOSE[name]["volumes"]
        assert any(m.split(":")[0] in named for m in mounts), f"{name} keeps its data outside a named volume"
    assert "--appendonly" in SERVICES_IN_COMPOSE["redis"]["command"]
    assert "noeviction" in SERVICES_IN_COMPOSE["redis"]["command"]


def test_the_image_is_multi_stage_and_runs_as_a_non_root_user():
    assert len(re.findall(r"^FROM ", DOCKERFILE, re.M)) >= 2
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "deploy/gunicorn.conf.py" in DOCKERFILE


def _variables_the_code_reads() -> set[str]:
    names: set[str] = set()
    pattern = re.compile(r"""(?:env\.\w+|os\.environ(?:\.get)?)[(\[]\s*["']([A-Z][A-Z0-9_]+)["']""")
    for path in [*(REPO / "services").rglob("*.py"), REPO / "deploy" / "gunicorn.conf.py"]:
        names |= set(pattern.findall(path.read_text()))
    names |= {f"{svc.upper()}_DATABASE_URL" for svc, conf in SPEC["services"].items() if conf.get("database")}
    return names


def test_every_variable_a_service_reads_is_in_env_example():
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, re.M))
    missing = _variables_the_code_reads() - listed
    assert not missing, f"not in deploy/.env.example: {sorted(missing)}"


def test_secrets_have_no_values_in_compose_or_the_example():
    secret = re.compile(r"(PASSWORD|SECRET|_KEY|BASIC_AUTH|UI_AUTH)$")
    for name, svc in SERVICES_IN_COMPOSE.items():
        for key, value in (svc.get("environment") or {}).items():
            if secret.search(key):
                assert str(value).startswith("${") and ":?" in str(value), f"{name}.{key} has a literal secret"
    for key, value in re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", ENV_EXAMPLE, re.M):
        if secret.search(key):
            assert value == "", f"{key} has a value in .env.example"


def test_the_gateway_routes_every_service_and_its_docs():
    for svc in (p["service"] for p in SPEC["processes"] if p["kind"] == "api"):
        assert f"location /api/{svc}/ {{" in NGINX
        assert f"proxy_pass http://{svc}-api:8000/;" in NGINX
        assert f"X-Forwarded-Prefix /api/{svc};" in NGINX
    assert "location /flower/" in NGINX and "location /mail/" in NGINX
    assert SERVICES_IN_COMPOSE["flower"]["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")


def test_the_gateway_serves_the_portal_at_the_root_and_the_apis_beside_it():
    webs = [p for p in SPEC["processes"] if p["kind"] == "web"]
    assert [p["service"] for p in webs] == ["portal"]
    assert "location / {" in NGINX and "proxy_pass http://portal-web:8000;" in NGINX
    # nginx picks the longest prefix: /api/<service>/ still reaches each API
    assert NGINX.index("location /api/identity/") < NGINX.index("location / {")
    portal = SERVICES_IN_COMPOSE["portal-web"]
    assert portal["command"][-1] == "services.portal.wsgi:app"
    assert portal["healthcheck"]["test"][-1] == "http://127.0.0.1:8000/readyz"
    env = portal["environment"]
    assert not [k for k in env if k.endswith("_DATABASE_URL")], "the portal reads no database"
    for svc in SPEC["services"]:
        if svc != "portal":
            assert env[f"{svc.upper()}_API_URL"] == f"http://{svc}-api:8000"
            assert f"{svc}-api" in portal["depends_on"]
    assert env["PORTAL_SECRET_KEY"].startswith("${PORTAL_SECRET_KEY:?")
    assert "portal-web" in SERVICES_IN_COMPOSE["gateway"]["depends_on"]


def test_e_mails_link_to_the_portal_in_both_runs():
    notifications = SERVICES_IN_COMPOSE["notifications-worker"]["environment"]
    assert notifications["NOTIFICATIONS_LINK_BASE_URL"] == "${PUBLIC_BASE_URL}"
    run = (REPO / "devstack" / "run.py").read_text()
    assert 'env.setdefault("NOTIFICATIONS_LINK_BASE_URL", self.urls["portal"])' in run
