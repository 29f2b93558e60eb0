"""Flask app-factory parts every service shares: docs, errors, request id, logs, health, metrics."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import structlog
from flask import Flask, Response, g, jsonify, request, send_from_directory
from flask_smorest import Api, Blueprint
from marshmallow import INCLUDE, Schema, fields
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from werkzeug.exceptions import RequestEntityTooLarge

from .auth import public, view_of
from .errors import PROBLEM_JSON, ApiError, problem_response, register_error_handlers
from .logging import configure_logging
from .settings import Settings

log = structlog.get_logger("http")

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "method", "endpoint", "status"])
LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["service", "method", "endpoint"])


class ProblemSchema(Schema):
    """An error (RFC 9457 problem details); `code` is stable and meant for programs."""

    class Meta:
        unknown = INCLUDE  # a problem may carry members of its own (`retry_after`, `status_now`, ...)

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


# every operation may answer these, each as problem+json with its stable `code` (README, "Errors")
DOCUMENTED_ERRORS = (401, 403, 404, 409, 422)


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": ProblemSchema}}


def _document_errors(doc: dict[str, Any], _doc_info: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """Declare the shared error answers on an operation; an error documented without a body gets the problem's."""
    responses = doc.setdefault("responses", {})  # keyed by int or str status, and "default"
    declared = {str(k) for k in responses}
    for status in DOCUMENTED_ERRORS:
        if str(status) not in declared:
            responses[status] = HTTPStatus(status).name
    for status, response in responses.items():
        if str(status).isdigit() and int(status) >= 400 and isinstance(response, dict) and "content" not in response:
            response["content"] = _problem_content()
    return doc


def _decimal_pattern(_converter: Any, field: fields.Field, **_kwargs: Any) -> dict[str, Any]:
    return {"pattern": DECIMAL_PATTERN} if isinstance(field, fields.Decimal) else {}


DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


class PlatformApi(Api):
    """flask-smorest Api whose errors go through our problem+json handler, and are documented as such."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)

    def _register_responses(self) -> None:
        """Like flask-smorest's, but an error's body is application/problem+json, as the handler answers."""
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = _problem_content()
            elif not (100 <= status < 200) and status not in (204, 304):
                response["content"] = {self.DEFAULT_RESPONSE_CONTENT_TYPE: {"schema": self.ERROR_SCHEMA}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR", {"description": "Default error response", "content": _problem_content()}, lazy=True
        )

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        super()._init_spec(*args, **kwargs)
        # a Decimal travels as a string ("12.30"), both ways: say so, not "number"
        self.ma_plugin.map_to_openapi_type(fields.Decimal, "string", "decimal")
        self.ma_plugin.converter.add_attribute_function(_decimal_pattern)

    def register_blueprint(self, blp: Blueprint, **options: Any) -> None:
        if _document_errors not in blp._prepare_doc_cbks:  # blueprints outlive apps: add it once
            blp._prepare_doc_cbks.append(_document_errors)
        super().register_blueprint(blp, **options)


ReadinessCheck = Callable[[], None]
Refusal = Callable[[int], ApiError]


def body_too_large(limit: int) -> ApiError:
    """413: the body is over the limit; it was refused before it was read (or as soon as it went past)."""
    return ApiError(
        413,
        "payload_too_large",
        f"The request body is larger than the limit of {limit} bytes.",
        detail_lv=f"Pieprasījuma saturs ir lielāks par atļautajiem {limit} baitiem.",
        max_bytes=limit,
    )


def accepts_body_up_to(limit: Callable[[], int], refusal: Refusal = body_too_large) -> Callable[[Any], Any]:
    """Let one view take a larger body than the service's MAX_REQUEST_BYTES (an upload): up to `limit()` bytes."""

    def mark(view: Any) -> Any:
        view._body_limit = (limit, refusal)
        return view

    return mark


class _CappedInput(io.RawIOBase):
    """A body without a length (chunked): read through, and refused as soon as it goes past the limit.

    werkzeug's own cap (`max_content_length`) stops quietly at the limit, so a cut-off JSON body would be
    parsed as broken JSON (a 400) instead of refused as too large."""

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__()
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1)) if self._left >= 0 else b""
        self._left -= len(data)
        if self._left < 0:
            raise RequestEntityTooLarge()
        buffer[: len(data)] = data
        return len(data)


def _install_body_limit(app: Flask, default: int) -> None:
    """Refuse a body over its view's limit with 413 before reading it: by its Content-Length, or, when it
    has none (chunked), as soon as reading it goes past the limit. No view ever gets a body whole first."""

    def limit_here() -> tuple[int, Refusal]:
        limit, refusal = getattr(view_of(app, request.endpoint), "_body_limit", (None, body_too_large))
        return (limit() if limit else default), refusal

    @app.before_request
    def _limit_body() -> None:
        limit, refusal = limit_here()
        if request.content_length is not None:
            if request.content_length > limit:
                raise refusal(limit)
        elif request.environ.get("wsgi.input_terminated"):  # the server ends a chunked body (gunicorn)
            request.environ["wsgi.input"] = _CappedInput(request.environ["wsgi.input"], limit)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        limit, refusal = limit_here()
        return problem_response(refusal(limit))


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
        # werkzeug's cap would cut a chunked body short quietly; _install_body_limit refuses it instead
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
    _install_body_limit(app, settings.max_request_bytes)

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
