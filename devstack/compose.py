"""docker-compose.yml and the gateway's nginx.conf, generated from deploy/processes.toml.

    python -m devstack.compose write   # rewrite docker-compose.yml and deploy/nginx.conf
    python -m devstack.compose check   # exit 1 when the committed files differ from the process list

`make run` starts the processes of deploy/processes.toml directly; docker-compose.yml runs the same
commands in containers. Generating one from the other keeps them from drifting apart.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from .run import PROCESSES, REPO, load_processes

COMPOSE = REPO / "docker-compose.yml"
NGINX = REPO / "deploy" / "nginx.conf"

IMAGES = {
    "postgres": "postgres:17.6-bookworm",
    "redis": "redis:7.4.5-bookworm",
    # the last community MinIO image; only plain S3 calls are used, so any S3 server can replace it
    "minio": "minio/minio:RELEASE.2025-04-22T22-12-26Z",
    "mailpit": "axllent/mailpit:v1.27.7",
    "nginx": "nginx:1.29.1-alpine",
    "flower": "mher/flower:2.0.1",
}
APP_IMAGE = "${PUMPURS_IMAGE:-pumpurs-platform:0.1.0}"
HEALTH = {"interval": "15s", "timeout": "10s", "retries": 5, "start_period": "30s"}

HEADER = """\
# PuMPuRS platform for administrators: `docker compose up -d` (README, "Running with docker compose").
# GENERATED from deploy/processes.toml by `python -m devstack.compose write`: edit that file or
# devstack/compose.py, not this one; the tests fail when they disagree.
"""


def _python(command: list[str]) -> list[str]:
    return ["python" if part == "{python}" else part for part in command]


def _app_environment(services: list[str]) -> dict[str, str]:
    """What every platform container gets, on top of deploy/.env."""
    env = {
        "REDIS_URL": "redis://redis:6379/0",
        "S3_ENDPOINT_URL": "http://minio:9000",
        "S3_ACCESS_KEY": "${MINIO_ROOT_USER:?set MINIO_ROOT_USER in deploy/.env}",
        "S3_SECRET_KEY": "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD in deploy/.env}",
        "SMTP_HOST": "${SMTP_HOST:-mailpit}",
        "SMTP_PORT": "${SMTP_PORT:-1025}",
        "JWT_ISSUER": "${PUBLIC_BASE_URL:?set PUBLIC_BASE_URL in deploy/.env}/api/identity",
        "IDENTITY_PUBLIC_URL": "${PUBLIC_BASE_URL}/api/identity",
        "JWKS_URL": "http://identity-api:8000/.well-known/jwks.json",
        "BEHIND_PROXY": "true",
        # e-mails link to the portal, which the gateway serves at `/` of the public address
        "NOTIFICATIONS_LINK_BASE_URL": "${PUBLIC_BASE_URL}",
    }
    for svc in services:
        env[f"{svc.upper()}_DATABASE_URL"] = (
            "postgresql://${POSTGRES_USER:-pumpurs}:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in deploy/.env}"
            f"@postgres:5432/{svc}"
        )
    return env


def _depends(**conditions: str) -> dict[str, dict[str, str]]:
    return {name: {"condition": cond} for name, cond in conditions.items()}


def _infra(databases: list[str]) -> dict[str, Any]:
    return {
        "postgres": {
            "image": IMAGES["postgres"],
            "restart": "unless-stopped",
            "environment": {
                "POSTGRES_USER": "${POSTGRES_USER:-pumpurs}",
                "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in deploy/.env}",
                "POSTGRES_DATABASES": " ".join(databases),
            },
            "volumes": [
                "pgdata:/var/lib/postgresql/data",
                "./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-databases.sh:ro",
            ],
            "healthcheck": {"test": ["CMD-SHELL", "pg_isready -U $$POSTGRES_USER -d postgres"], **HEALTH},
        },
        "redis": {
            "image": IMAGES["redis"],
            "restart": "unless-stopped",
            # DESIGN.md, traps: without AOF a Redis restart loses every queued task
            "command": [
                "redis-server",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
            ],
            "volumes": ["redisdata:/data"],
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], **HEALTH},
        },
        "minio": {
            "image": IMAGES["minio"],
            "restart": "unless-stopped",
            "command": ["server", "/data", "--console-address", ":9001"],
            "environment": {
                "MINIO_ROOT_USER": "${MINIO_ROOT_USER:?set MINIO_ROOT_USER in deploy/.env}",
                "MINIO_ROOT_PASSWORD": "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD in deploy/.env}",
            },
            # presigned download links point here (S3_PUBLIC_ENDPOINT_URL)
            "ports": ["${MINIO_PORT:-9000}:9000"],
            "volumes": ["miniodata:/data"],
            # the image has no curl: MinIO's own client says when the server is ready
            "healthcheck": {"test": ["CMD", "mc", "ready", "local"], **HEALTH},
        },
        "mailpit": {
            "image": IMAGES["mailpit"],
            "restart": "unless-stopped",
            "environment": {
                "MP_WEBROOT": "/mail/",
                "MP_DATABASE": "/data/mailpit.db",
                "MP_UI_AUTH": "${MAILPIT_UI_AUTH:?set MAILPIT_UI_AUTH in deploy/.env}",
            },
            "volumes": ["maildata:/data"],
            "healthcheck": {"test": ["CMD", "/mailpit", "readyz"], **HEALTH},
        },
        "flower": {
            "image": IMAGES["flower"],
            "restart": "unless-stopped",
            "environment": {
                "CELERY_BROKER_URL": "redis://redis:6379/0",
                "FLOWER_BASIC_AUTH": "${FLOWER_BASIC_AUTH:?set FLOWER_BASIC_AUTH in deploy/.env}",
                "FLOWER_URL_PREFIX": "/flower",
                "FLOWER_PURGE_OFFLINE_WORKERS": "300",
            },
            "depends_on": _depends(redis="service_healthy"),
            "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1:5555/flower/healthcheck"], **HEALTH},
        },
    }


def build(spec: dict[str, Any]) -> dict[str, Any]:
    services_with_db = [s for s, conf in spec["services"].items() if conf.get("database")]
    env = _app_environment(services_with_db)
    # every app container runs the one image; compose builds it once (the same context and tag)
    app = {
        "image": APP_IMAGE,
        "build": {"context": ".", "dockerfile": "deploy/Dockerfile"},
        "env_file": ["deploy/.env"],
        "environment": env,
    }
    out: dict[str, Any] = _infra(services_with_db)
    out["minio-init"] = (
        {
            **app,
            "command": ["python", "-m", "services.documents.cli", "setup-bucket"],
            "restart": "no",
            "depends_on": _depends(minio="service_healthy"),
        }
        if "documents" in spec["services"]
        else None
    )
    if out["minio-init"] is None:
        del out["minio-init"]

    jobs_of: dict[str, list[str]] = {}
    for job in spec.get("jobs", []):
        svc = job["service"]
        needs = {"postgres": "service_healthy", "redis": "service_healthy"}
        needs.update({prev: "service_completed_successfully" for prev in jobs_of.get(svc, [])})
        if svc == "documents":
            needs["minio"] = "service_healthy"
        out[job["name"]] = {**app, "command": _python(job["command"]), "restart": "no", "depends_on": _depends(**needs)}
        jobs_of.setdefault(svc, []).append(job["name"])

    apis: list[tuple[str, str]] = []
    webs: list[str] = []
    # the portal calls the APIs: list them first, whatever the order of the process list
    ordered = sorted(spec["processes"], key=lambda p: p["kind"] == "web")
    for proc in ordered:
        name, kind, svc = proc["name"], proc["kind"], proc.get("service")
        needs = {"postgres": "service_healthy", "redis": "service_healthy"}
        if svc:
            needs.update({job: "service_completed_successfully" for job in jobs_of.get(svc, [])})
        if svc == "documents":
            needs["minio"] = "service_healthy"
        if svc == "notifications":
            needs["mailpit"] = "service_healthy"
        if kind == "web":  # the portal: no database, no jobs; it needs Redis and the APIs it calls
            needs = {"redis": "service_healthy"}
            needs.update({api: "service_healthy" for _s, api in apis})
        entry: dict[str, Any] = {
            **app,
            "command": _python(proc["command"]),
            "restart": "unless-stopped",
            "depends_on": _depends(**needs),
        }
        if kind in ("api", "web"):  # gunicorn binds 0.0.0.0:8000 by default (deploy/gunicorn.conf.py)
            entry["healthcheck"] = {
                "test": ["CMD", "python", "-m", "services.common.healthcheck", "http", "http://127.0.0.1:8000/readyz"],
                **HEALTH,
            }
            if kind == "api":
                apis.append((svc, name))
            else:
                # the portal reads no database: Redis for sessions, and the APIs inside the compose network
                entry["environment"] = {
                    "REDIS_URL": env["REDIS_URL"],
                    "BEHIND_PROXY": "true",
                    "PORTAL_PUBLIC_URL": "${PUBLIC_BASE_URL:?set PUBLIC_BASE_URL in deploy/.env}",
                    "PORTAL_SECRET_KEY": "${PORTAL_SECRET_KEY:?set PORTAL_SECRET_KEY in deploy/.env}",
                    **{f"{s.upper()}_API_URL": f"http://{a}:8000" for s, a in apis},
                }
                webs.append(name)
        elif kind == "worker":
            app_module = proc["command"][proc["command"].index("-A") + 1]
            entry["healthcheck"] = {
                "test": ["CMD", "python", "-m", "services.common.healthcheck", "worker", app_module, proc["queue"]],
                **HEALTH,
                "interval": "30s",
            }
        elif kind == "scheduler":
            entry["healthcheck"] = {
                "test": ["CMD", "python", "-m", "services.common.healthcheck", "scheduler"],
                **HEALTH,
            }
        out[name] = entry

    out["gateway"] = {
        "image": IMAGES["nginx"],
        "restart": "unless-stopped",
        "ports": ["${GATEWAY_PORT:-8080}:80"],
        "volumes": ["./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro"],
        "depends_on": _depends(
            **{name: "service_healthy" for name in [*(a for _s, a in apis), *webs]},
            flower="service_healthy",
            mailpit="service_healthy",
        ),
        "healthcheck": {"test": ["CMD", "wget", "-qO-", "http://127.0.0.1/healthz"], **HEALTH},
    }
    return {
        "name": "pumpurs",
        "services": out,
        "volumes": {v: {} for v in ("pgdata", "redisdata", "miniodata", "maildata")},
    }


def nginx_conf(spec: dict[str, Any]) -> str:
    apis = [(p["service"], p["name"]) for p in spec["processes"] if p["kind"] == "api"]
    webs = [p["name"] for p in spec["processes"] if p["kind"] == "web"]
    lines = [
        "# The gateway: one origin for every service. GENERATED by `python -m devstack.compose write`.",
        "server {",
        "    listen 80;",
        "    server_name _;",
        "    client_max_body_size 32m;  # the upload limit (20 MB by default) and the form around it",
        "    proxy_read_timeout 120s;",
        "",
        "    location = /healthz { access_log off; return 200 'ok'; }",
        "",
    ]
    for svc, name in apis:
        lines += [
            f"    # {svc}: /api/{svc}/... and its docs at /api/{svc}/docs",
            f"    location /api/{svc}/ {{",
            f"        proxy_pass http://{name}:8000/;",
            "        proxy_set_header Host $host;",
            "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "        proxy_set_header X-Forwarded-Proto $scheme;",
            "        proxy_set_header X-Forwarded-Host $host;",
            f"        proxy_set_header X-Forwarded-Prefix /api/{svc};",
            "        proxy_request_buffering off;  # uploads stream through to the service",
            "    }",
            "",
        ]
    lines += [
        "    # Celery monitoring, behind Flower's own basic auth",
        "    location /flower/ { proxy_pass http://flower:5555; proxy_set_header Host $host; }",
        "    # outgoing mail (Mailpit), behind its own basic auth",
        "    location /mail/ { proxy_pass http://mailpit:8025; proxy_set_header Host $host;",
        "                      proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;",
        '                      proxy_set_header Connection "upgrade"; }',
        "",
        "    # metrics stay inside: Prometheus scrapes each service directly on the compose network",
        "    location ~ ^/api/[a-z]+/metrics$ { return 404; }",
    ]
    for name in webs:
        lines += [
            "",
            "    # the portal: every other path (the web pages people use)",
            "    location / {",
            f"        proxy_pass http://{name}:8000;",
            "        proxy_set_header Host $host;",
            "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "        proxy_set_header X-Forwarded-Proto $scheme;",
            "        proxy_set_header X-Forwarded-Host $host;",
            "    }",
        ]
    lines += [
        "}",
        "",
    ]
    return "\n".join(lines)


def render_compose(spec: dict[str, Any]) -> str:
    compose = build(spec)
    shared_env = compose["services"][spec["processes"][0]["name"]]["environment"]

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            # the platform's environment is written once and referenced by every app container
            return data is not shared_env

    text = yaml.dump(compose, Dumper=Dumper, sort_keys=False, width=110, allow_unicode=True, default_flow_style=None)
    return HEADER + text.replace("&id001", "&platform-env").replace("*id001", "*platform-env")


def main(argv: list[str]) -> int:
    spec = load_processes(PROCESSES)
    wanted = {COMPOSE: render_compose(spec), NGINX: nginx_conf(spec)}
    if argv[:1] == ["write"]:
        for path, text in wanted.items():
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
        return 0
    stale = [str(p.relative_to(REPO)) for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python -m devstack.compose write`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
