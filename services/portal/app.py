"""create_app for the portal: server-rendered pages over the services' public APIs."""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis
import structlog
from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from services.common.logging import configure_logging

from . import areas, auth, i18n, links
from .client import ApiProblem, ServiceUnavailable, Transport, api
from .security import form_token, security_headers
from .sessions import RedisSessionInterface
from .settings import PortalSettings, load_portal_settings

log = structlog.get_logger("portal")

# the part of the platform a page could not reach, as people know it
SERVICE_NAMES = {
    "identity": _l("sign-in and accounts"),
    "plans": _l("students and plans"),
    "documents": _l("documents"),
    "finance": _l("money and reimbursements"),
    "notifications": _l("messages and the inbox"),
    "portal": _l("the portal's session store"),
}
ROLE_NAMES = {
    "platform_admin": _l("Platform administrator (IKVD)"),
    "regional_coordinator": _l("Regional coordinator"),
    "municipality_coordinator": _l("Municipality coordinator"),
    "school_coordinator": _l("School coordinator"),
    "accountant": _l("Accountant"),
    "director": _l("Director"),
    "plan_preparer": _l("Plan preparer"),
    "support_provider": _l("Support provider"),
    "teacher": _l("Teacher"),
    "auditor": _l("Auditor"),
}
# the plan statuses of the real PuMPuRS database, with their Latvian names (DOMAIN.md)
PLAN_STATUSES = {
    "draft": (_l("Draft"), "grey"),
    "in_approval": (_l("In approval"), "blue"),
    "approved": (_l("Approved"), "green"),
    "in_progress": (_l("In progress"), "turquoise"),
    "suspended": (_l("Suspended"), "orange"),
    "under_review": (_l("Under review"), "yellow"),
    "inactive": (_l("Inactive"), "red"),
}
_QUIET = {"/healthz", "/readyz"}


def create_app(settings: PortalSettings | None = None) -> Flask:
    """Build the portal; nothing connects until the first request."""
    settings = settings or load_portal_settings()
    configure_logging("portal", settings.log_format, settings.log_level)
    app = Flask("services.portal", static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        WTF_CSRF_TIME_LIMIT=None,  # as long as the session
        WTF_CSRF_HEADERS=["X-CSRFToken"],
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    if settings.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)  # type: ignore[method-assign]
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=2)
    app.extensions["portal.settings"] = settings
    app.extensions["portal.redis"] = client
    app.extensions["portal.transport"] = Transport(
        settings.service_urls, settings.api_connect_timeout, settings.api_read_timeout, settings.api_workers
    )
    app.session_interface = RedisSessionInterface(client, settings.session_idle_seconds, settings.secure_cookies)
    i18n.init_app(app)
    _request_context(app)
    auth.install(app)  # before CSRF: a POST after the session ended keeps its content for the next login
    CSRFProtect(app)
    found = areas.discover()
    app.extensions["portal.areas"] = found
    for area in found:
        if area.blueprint is not None:
            app.register_blueprint(area.blueprint)
    links.install(app)
    _templates(app, found)
    _errors(app)
    _probes(app, client)
    return app


def _request_context(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        rid = request.headers.get("X-Request-ID", "")
        g.request_id = rid if rid and len(rid) <= 64 and rid.isprintable() else uuid.uuid4().hex
        g.started = time.perf_counter()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def _finish(resp: Response) -> Response:
        security_headers(resp)
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        if request.path not in _QUIET and request.endpoint != "static":
            elapsed = time.perf_counter() - g.get("started", time.perf_counter())
            # the route pattern, never the path: no ids or link secrets in the logs
            rule = request.url_rule.rule if request.url_rule else "unmatched"
            log.info("page", method=request.method, route=rule, status=resp.status_code, ms=round(elapsed * 1000, 1))
        return resp


def _templates(app: Flask, found: list[areas.Area]) -> None:
    nav = [item for area in found for item in area.nav]

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(plan_statuses=PLAN_STATUSES, role_names=ROLE_NAMES, url_if=links.url_if)

    @app.context_processor
    def _context() -> dict[str, Any]:
        user = auth.current_user()
        held = auth.roles()
        return {
            "user": user,
            "user_roles": sorted(held),
            "user_role_names": [str(ROLE_NAMES.get(r, r)) for r in sorted(held)],
            "nav": areas.visible([i for i in nav if i.endpoint in app.view_functions], held) if user else [],
            "form_token": form_token,
            # the macros (templates/macros.html), compiled once for the app
            "ui": app.jinja_env.get_template("macros.html").module,
        }


def render_error(template: str, status: int, **context: Any) -> tuple[str, int]:
    return render_template(f"errors/{template}.html", **context), status


def _errors(app: Flask) -> None:
    @app.errorhandler(ServiceUnavailable)
    def _unavailable(exc: ServiceUnavailable) -> Any:
        log.warning("service_unavailable", service=exc.service, reason=exc.reason)
        body, status = render_error("unavailable", 503, service=SERVICE_NAMES.get(exc.service, exc.service))
        return Response(body, status, headers={"Retry-After": "30"}, mimetype="text/html")

    @app.errorhandler(redis.RedisError)
    def _store_down(exc: redis.RedisError) -> Any:
        log.warning("session_store_unavailable", error_type=type(exc).__name__)
        # no session can be read or written: render without touching it
        session_store_down = True
        body = render_template("errors/unavailable.html", service=SERVICE_NAMES["portal"], bare=session_store_down)
        return Response(body, 503, headers={"Retry-After": "30"}, mimetype="text/html")

    @app.errorhandler(ApiProblem)
    def _problem(exc: ApiProblem) -> Any:
        # an id of another tenant answers 404 in the services: here it looks exactly like a missing page
        if exc.status == 404:
            return render_error("not_found", 404)
        if exc.status == 403:
            return render_error("forbidden", 403)
        return render_error("problem", exc.status if 400 <= exc.status < 500 else 500, problem=exc)

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> Any:
        return render_error("csrf", 400)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code == 404:
            return render_error("not_found", 404)
        if exc.code == 403:
            return render_error("forbidden", 403)
        return render_error("http", exc.code or 500, code=exc.code)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled_error", error_type=type(exc).__name__)
        return render_error("http", 500, code=500)


def _probes(app: Flask, client: redis.Redis) -> None:
    @app.get("/healthz")
    @auth.public
    def healthz() -> Response:
        return jsonify(status="ok", service="portal")

    @app.get("/readyz")
    @auth.public
    def readyz() -> Any:
        try:
            client.ping()
        except redis.RedisError as exc:
            return jsonify(status="not_ready", checks={"redis": f"down: {type(exc).__name__}"}), 503
        return jsonify(status="ready", checks={"redis": "ok"})


__all__ = ["api", "create_app"]
