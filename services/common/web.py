"""Flask app-factory parts every service shares: docs, errors, request id, logs, health, metrics."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from flask import Flask, Response, g, jsonify, request, send_from_directory
from flask_smorest import Api
from marshmallow import Schema, fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from .auth import public
from .errors import ApiError, register_error_handlers
from .logging import configure_logging
from .settings import Settings

log = structlog.get_logger("http")

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "endpoint", "status"])
LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["service", "method", "endpoint"])


class ProblemSchema(Schema):
    """An error (RFC 9457 problem details); `code` is stable and meant for programs."""

    type = fields.String()
    title = fields.String(metadata={"description": "English title"})
    title_lv = fields.String(metadata={"description": "Latvian title"})
    status = fields.Integer()
    code = fields.String(metadata={"description": "Stable error code"})
    detail = fields.String()
    detail_lv = fields.String()
    errors = fields.Dict(metadata={"description": "Field name -> messages"})
    instance = fields.String()
    request_id = fields.String()


class PlatformApi(Api):
    """flask-smorest Api whose errors go through our problem+json handler."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)


ReadinessCheck = Callable[[], None]


def create_base_app(
    settings: Settings,
    *,
    title: str,
    description: str,
    readiness: dict[str, ReadinessCheck],
    version: str = "1.0",
) -> tuple[Flask, PlatformApi]:
    """Build a Flask app with the shared parts; the service adds its blueprints to the Api."""
    import swagger_ui_bundle

    configure_logging(settings.service, settings.log_format, settings.log_level)
    app = Flask(f"services.{settings.service}")
    app.config.update(
        API_TITLE=title,
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # relative, so the page works under the gateway's /api/<service>/ prefix too
        OPENAPI_SWAGGER_UI_URL="docs/assets/",
        OPENAPI_SWAGGER_UI_CONFIG={"persistAuthorization": True},
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        },
        MAX_CONTENT_LENGTH=None,
        JSON_SORT_KEYS=False,
    )
    app.extensions["settings"] = settings
    if settings.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    api = PlatformApi(app)
    app.extensions["api"] = api
    register_error_handlers(app)
    _install_request_context(app, settings.service)

    assets = swagger_ui_bundle.swagger_ui_path

    @app.get("/docs/assets/<path:filename>", endpoint="_docs_assets")
    def _docs_assets(filename: str) -> Response:
        return send_from_directory(assets, filename, max_age=86400)

    @app.get("/healthz")
    @public
    def _healthz() -> Response:
        return jsonify(status="ok", service=settings.service)

    @app.get("/readyz")
    @public
    def _readyz() -> Any:
        results: dict[str, str] = {}
        ok = True
        for name, check in readiness.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                ok = False
                results[name] = f"down: {type(exc).__name__}"
        if not ok:
            raise ApiError(
                503,
                "not_ready",
                "A dependency is not reachable.",
                checks=results,
                headers={"Retry-After": "5"},
                detail_lv="Kāda atkarība nav sasniedzama.",
            )
        return jsonify(status="ready", checks=results)

    @app.get("/metrics")
    @public
    def _metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return app, api


_QUIET = {"/healthz", "/readyz", "/metrics"}


def _install_request_context(app: Flask, service: str) -> None:
    @app.before_request
    def _start() -> None:
        rid = request.headers.get("X-Request-ID", "")
        g.request_id = rid if rid and len(rid) <= 64 and rid.isprintable() else uuid.uuid4().hex
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.teardown_request
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @app.after_request
    def _finish(resp: Response) -> Response:
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        REQUESTS.labels(service, request.method, endpoint, resp.status_code).inc()
        LATENCY.labels(service, request.method, endpoint).observe(elapsed)
        if request.path not in _QUIET:
            # the route pattern, never the concrete path: no identifiers or codes in logs
            log.info(
                "request", method=request.method, route=endpoint, status=resp.status_code, ms=round(elapsed * 1000, 1)
            )
        return resp
