"""Errors as application/problem+json (RFC 9457) with a stable `code` a client can act on."""

from __future__ import annotations

from typing import Any

import structlog
from flask import Flask, Response, g, json, request
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)

# status -> (code, English title, Latvian title) for errors raised without a code of their own
_DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Malformed request", "Nekorekts pieprasījums"),
    401: ("unauthenticated", "Authentication required", "Nepieciešama autentifikācija"),
    403: ("forbidden", "Not allowed for your role", "Jūsu lomai tas nav atļauts"),
    404: ("not_found", "Not found", "Nav atrasts"),
    405: ("method_not_allowed", "Method not allowed", "Metode nav atļauta"),
    409: ("conflict", "Conflicts with the current state", "Konflikts ar pašreizējo stāvokli"),
    413: ("payload_too_large", "Request too large", "Pieprasījums ir pārāk liels"),
    415: ("unsupported_media_type", "Unsupported media type", "Neatbalstīts datu tips"),
    422: ("invalid_input", "Invalid input", "Nederīgi ievaddati"),
    423: ("locked", "Locked", "Bloķēts"),
    429: ("too_many_requests", "Too many requests", "Pārāk daudz pieprasījumu"),
    500: ("internal_error", "Internal error", "Iekšēja kļūda"),
    503: ("unavailable", "Temporarily unavailable", "Īslaicīgi nepieejams"),
}


class ApiError(Exception):
    """An error the API answers with; `code` is the stable, machine-readable part."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        *,
        title: str | None = None,
        title_lv: str | None = None,
        detail_lv: str | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        default_code, default_title, default_title_lv = _DEFAULTS.get(status, ("error", "Error", "Kļūda"))
        super().__init__(detail or code or default_code)
        self.status = status
        self.code = code or default_code
        self.title = title or default_title
        self.title_lv = title_lv or default_title_lv
        self.detail = detail
        self.detail_lv = detail_lv
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class NotFound(ApiError):
    def __init__(self, what: str = "resource") -> None:
        super().__init__(404, "not_found", f"No such {what}.", detail_lv="Šāds ieraksts nav atrasts.")


class Forbidden(ApiError):
    def __init__(self, detail: str = "Your role does not allow this action.", code: str = "forbidden"):
        super().__init__(403, code, detail, detail_lv="Jūsu loma neļauj veikt šo darbību.")


class Unauthenticated(ApiError):
    def __init__(
        self,
        detail: str = "A valid access token is required.",
        code: str = "unauthenticated",
        detail_lv: str = "Nepieciešams derīgs piekļuves marķieris.",
    ):
        super().__init__(
            401,
            code,
            detail,
            detail_lv=detail_lv,
            headers={"WWW-Authenticate": 'Bearer realm="pumpurs"'},
        )


class Conflict(ApiError):
    def __init__(self, code: str, detail: str, detail_lv: str | None = None, **extra: Any) -> None:
        super().__init__(409, code, detail, detail_lv=detail_lv, **extra)


def problem_response(err: ApiError) -> Response:
    body: dict[str, Any] = {
        "type": f"https://pumpurs.lv/problems/{err.code}",
        "title": err.title,
        "title_lv": err.title_lv,
        "status": err.status,
        "code": err.code,
    }
    if err.detail:
        body["detail"] = err.detail
    if err.detail_lv:
        body["detail_lv"] = err.detail_lv
    if err.errors:
        body["errors"] = err.errors
    body.update(err.extra)
    try:
        body["instance"] = request.path
        body["request_id"] = g.get("request_id")
    except RuntimeError:  # outside a request
        pass
    resp = Response(json.dumps(body), status=err.status, mimetype=PROBLEM_JSON)
    for key, value in err.headers.items():
        resp.headers[key] = value
    return resp


def _from_http_exception(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    if status in (400, 422) and messages:
        # webargs nests by location ({"json": {...}}); a client wants the fields
        fields: dict[str, Any] = {}
        for location, errs in messages.items():
            if isinstance(errs, dict):
                fields.update(errs)
            else:
                fields[location] = errs
        if status == 400:  # webargs answers 400 only for a body that does not parse
            return ApiError(
                400,
                "malformed_json",
                "The request body is not valid JSON.",
                detail_lv="Pieprasījuma saturs nav derīgs JSON.",
            )
        return ApiError(
            422,
            "invalid_input",
            "Some fields are missing or invalid; see `errors`.",
            detail_lv="Daži lauki trūkst vai ir nederīgi; skatiet `errors`.",
            errors=fields,
        )
    headers = dict(data.get("headers") or {})
    return ApiError(status, None, exc.description if status < 500 else None, headers=headers)


RETRY_AFTER_SECONDS = 5


def dependency_down(exc: BaseException) -> bool:
    """The service's database or Redis is away for a moment (a restart, a failover): nothing the client did."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def register_error_handlers(app: Flask) -> None:
    """Route every error, ours, Werkzeug's, webargs' or unexpected, through problem+json."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return problem_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return problem_response(_from_http_exception(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if dependency_down(exc):
            log.warning("dependency_unavailable", error_type=type(exc).__name__)
            return problem_response(
                ApiError(
                    503,
                    "unavailable",
                    "The service's database or message broker is not reachable now. Try again in a moment.",
                    detail_lv="Servisa datubāze vai ziņojumu starpnieks pašlaik nav sasniedzams. "
                    "Mēģiniet vēlreiz pēc brīža.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            )
        log.exception("unhandled_error", error_type=type(exc).__name__)
        return problem_response(ApiError(500))
