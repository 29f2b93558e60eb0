"""The backend-for-frontend client: the services' public HTTP APIs, called with the signed-in person's
own access token exactly as any client would.

    from services.portal.client import api
    plan = api.get("plans", f"/plans/{plan_id}")
    found = api.gather(plan=api.call("GET", "plans", f"/plans/{plan_id}"),
                       unread=api.call("GET", "notifications", "/inbox/unread-count"))

One pooled `requests.Session` per service, short timeouts, the calls of one page side by side on a thread
pool. A problem+json answer raises `ApiProblem`; a service that cannot be reached (or answers 503)
raises `ServiceUnavailable`, which the app turns into a page naming the part that is away; an access
token that expired is renewed once, quietly (tokens.TokenKeeper); a session identity ended raises
`SessionEnded`. No database, no Celery: this is all the portal knows of the services.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from flask import current_app, g, has_request_context, request
from requests.adapters import HTTPAdapter
from werkzeug.local import LocalProxy

PROBLEM_JSON = "application/problem+json"


class ServiceUnavailable(Exception):
    """A service cannot be reached now (connection refused, timeout, 502/503/504)."""

    def __init__(self, service: str, reason: str = "") -> None:
        super().__init__(f"{service} is unavailable: {reason}")
        self.service = service
        self.reason = reason


class SessionEnded(Exception):
    """Identity no longer accepts this person's session (logged out elsewhere, password reset, expired)."""


@dataclass
class ApiProblem(Exception):
    """A service refused the call: its problem+json, typed."""

    service: str
    status: int
    code: str
    title: str = ""
    detail: str = ""
    detail_lv: str = ""
    errors: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None
    body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.service} answered {self.status} {self.code}")

    @classmethod
    def from_response(cls, service: str, resp: requests.Response) -> ApiProblem:
        try:
            body = resp.json() if resp.content else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        retry = body.get("retry_after") or resp.headers.get("Retry-After")
        try:
            retry_after = int(retry) if retry is not None else None
        except (TypeError, ValueError):
            retry_after = None
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
        return cls(
            service=service,
            status=resp.status_code,
            code=str(body.get("code") or f"http_{resp.status_code}"),
            title=str(body.get("title") or ""),
            detail=str(body.get("detail") or ""),
            detail_lv=str(body.get("detail_lv") or ""),
            errors=errors or {},
            retry_after=retry_after,
            body=body,
        )

    def field_messages(self) -> dict[str, list[str]]:
        """`errors` flattened to field -> messages (nested members as `parent.child`)."""
        out: dict[str, list[str]] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                out.setdefault(prefix, []).extend(value)
            elif isinstance(value, list):
                for index, inner in enumerate(value):
                    walk(f"{prefix}.{index}", inner)
            else:
                out.setdefault(prefix, []).append(str(value))

        walk("", self.errors)
        return out


@dataclass(frozen=True)
class Call:
    """One API call, not yet made (for `gather`)."""

    method: str
    service: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    anonymous: bool = False


class Transport:
    """The app's connections: one pooled session per service, and the pool page calls run on."""

    def __init__(self, urls: dict[str, str], connect_timeout: float, read_timeout: float, workers: int) -> None:
        self.urls = urls
        self.timeout = (connect_timeout, read_timeout)
        self.workers = workers
        self._sessions: dict[str, requests.Session] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def session(self, service: str) -> requests.Session:
        with self._lock:
            found = self._sessions.get(service)
            if found is None:
                found = requests.Session()
                # no retries here: a page shows that a part is away rather than waiting on it
                adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(4, self.workers * 2), max_retries=0)
                found.mount("http://", adapter)
                found.mount("https://", adapter)
                self._sessions[service] = found
            return found

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="portal-api")
            return self._pool

    def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        base = self.urls.get(service)
        if not base:
            raise ServiceUnavailable(service, "no URL configured")
        sent = {"Accept": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            resp = self.session(service).request(
                method, base + path, params=params, json=json, headers=sent, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(service, type(exc).__name__) from exc
        if resp.status_code in (502, 503, 504):
            raise ServiceUnavailable(service, f"HTTP {resp.status_code}")
        return resp

    def close(self) -> None:
        with self._lock:
            for s in self._sessions.values():
                s.close()
            self._sessions.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None


TokenSource = Callable[[], "Any"]  # returns a tokens.TokenKeeper or None


class Client:
    """Calls as the person of the current request (or anonymously)."""

    def __init__(self, transport: Transport, keeper: Any | None, headers: dict[str, str]) -> None:
        self.transport = transport
        self.keeper = keeper  # tokens.TokenKeeper of the signed-in person, or None
        self.headers = headers

    def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        anonymous: bool = False,
    ) -> Call:
        return Call(method.upper(), service, path, params, json, anonymous)

    def run(self, call: Call) -> Any:
        """Make one call; the answer's JSON (None for an empty body), or raise."""
        keeper = None if call.anonymous else self.keeper
        token = keeper.access_token() if keeper is not None else None
        resp = self._send(call, token)
        if resp.status_code == 401 and keeper is not None:
            problem = ApiProblem.from_response(call.service, resp)
            if problem.code != "token_expired":
                keeper.ended()
                raise SessionEnded(problem.code)
            token = keeper.renew(token)
            resp = self._send(call, token)
            if resp.status_code == 401:
                keeper.ended()
                raise SessionEnded(ApiProblem.from_response(call.service, resp).code)
        if resp.status_code >= 400:
            raise ApiProblem.from_response(call.service, resp)
        if not resp.content:
            return None
        return resp.json()

    def _send(self, call: Call, token: str | None) -> requests.Response:
        return self.transport.send(
            call.service, call.method, call.path, token=token, params=call.params, json=call.json, headers=self.headers
        )

    def get(self, service: str, path: str, **params: Any) -> Any:
        return self.run(self.call("GET", service, path, params=params or None))

    def post(self, service: str, path: str, json: Any = None, *, anonymous: bool = False) -> Any:
        return self.run(self.call("POST", service, path, json=json if json is not None else {}, anonymous=anonymous))

    def patch(self, service: str, path: str, json: Any) -> Any:
        return self.run(self.call("PATCH", service, path, json=json))

    def put(self, service: str, path: str, json: Any) -> Any:
        return self.run(self.call("PUT", service, path, json=json))

    def delete(self, service: str, path: str) -> Any:
        return self.run(self.call("DELETE", service, path))

    def gather(self, *, optional: tuple[str, ...] = (), **calls: Call) -> dict[str, Any]:
        """Make several calls at once; a dict of their answers by name.

        The first failure (in the order given) is raised once all have finished. A name in `optional`
        gets the exception itself instead (a page part that may be away while the rest is shown).
        """
        if len(calls) == 1:
            ((name, only),) = calls.items()
            try:
                return {name: self.run(only)}
            except (ApiProblem, ServiceUnavailable) as exc:
                if name in optional:
                    return {name: exc}
                raise
        pool = self.transport.pool()
        futures: dict[str, Future[Any]] = {name: pool.submit(self.run, c) for name, c in calls.items()}
        results: dict[str, Any] = {}
        first: BaseException | None = None
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except (ApiProblem, ServiceUnavailable) as exc:
                if name in optional:
                    results[name] = exc
                elif first is None:
                    first = exc
            except BaseException as exc:  # SessionEnded and the unexpected: raised, never swallowed
                if first is None:
                    first = exc
        if first is not None:
            raise first
        return results


def transport() -> Transport:
    return current_app.extensions["portal.transport"]  # type: ignore[no-any-return]


def forwarded_headers() -> dict[str, str]:
    """What identity needs to count failed logins per person's address, not the portal's."""
    if not has_request_context():
        return {}
    headers = {"X-Forwarded-For": request.remote_addr or ""}
    rid = g.get("request_id")
    if rid:
        headers["X-Request-ID"] = rid
    return headers


def _client() -> Client:
    if not has_request_context():
        raise RuntimeError("the API client is used inside a request")
    found = g.get("portal_client")
    if found is None:
        from .tokens import current_keeper

        found = g.portal_client = Client(transport(), current_keeper(), forwarded_headers())
    return found  # type: ignore[no-any-return]


api: Client = LocalProxy(_client)  # type: ignore[assignment]
