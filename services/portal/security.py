"""Headers every page carries, one-time form tokens (a double click does one thing), and a form's content
kept across a new login when the session ended while it was being filled.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, current_app, redirect, request, session
from markupsafe import Markup

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def security_headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint != "static":
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


# ---- one-time form tokens ----------------------------------------------------------------------

ONCE = "portal:once:"
FRESH, BUSY = "fresh", "busy"
WAIT_FOR_FIRST = 10.0


def _once_key(token: str) -> str:
    return f"{ONCE}{session.store_key}:{token}"  # type: ignore[attr-defined]


def form_token() -> Markup:
    """A hidden input with a token this form may be sent with once (the `once` view decorator checks it)."""
    session.ensure_id()  # type: ignore[attr-defined]
    token = secrets.token_urlsafe(16)
    redis = current_app.extensions["portal.redis"]
    redis.set(_once_key(token), FRESH, ex=current_app.extensions["portal.settings"].session_idle_seconds)
    return Markup('<input type="hidden" name="form_token" value="{}">').format(token)


_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v == 'fresh' then redis.call('SET', KEYS[1], 'busy', 'KEEPTTL') return 'claimed' end
return v
"""


def once(view: F) -> F:
    """Do a form's POST once: a second sending of the same form (a double click, a resend) waits for the
    first and lands where it landed; a first that failed (the form shown again with errors) frees it."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = request.form.get("form_token", "")
        if not token or not getattr(session, "store_key", None):
            return view(*args, **kwargs)
        redis = current_app.extensions["portal.redis"]
        key = _once_key(token)
        claim = redis.register_script(_CLAIM)
        deadline = time.monotonic() + WAIT_FOR_FIRST
        while True:
            state = claim(keys=[key])
            state = state.decode() if isinstance(state, bytes) else state
            if state == "claimed" or state is None:
                break  # ours to do (None: a token we never issued or that expired: do it, CSRF holds)
            if state.startswith("done:"):
                return redirect(state[5:], 303)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        try:
            resp = view(*args, **kwargs)
        except BaseException:
            redis.set(key, FRESH, keepttl=True)
            raise
        location = getattr(resp, "location", None) if isinstance(resp, Response) else None
        if location and 300 <= resp.status_code < 400:
            redis.set(key, f"done:{location}", keepttl=True)
        else:
            redis.set(key, FRESH, keepttl=True)
        return resp

    return wrapper  # type: ignore[return-value]


# ---- a form's content across a new login -------------------------------------------------------

PENDING = "pending_form"
SECRET_FIELDS = ("password", "current_password", "new_password", "password_again", "csrf_token", "form_token")


def same_origin() -> bool:
    """The POST came from our own pages (a cross-site one must not plant a form's content)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(origin) and urlsplit(origin).netloc == request.host


def keep_pending_form() -> None:
    """Remember what was being sent (never a password) to fill the form in again after the login."""
    if request.method != "POST" or not same_origin():
        return
    values = {k: request.form.getlist(k) for k in request.form if k not in SECRET_FIELDS}
    session[PENDING] = {"path": request.path, "values": values, "at": time.time()}


def pending_values(path: str | None = None) -> dict[str, Any] | None:
    """The content a form had when its session ended, once, for the page at `path` (default: this one)."""
    pending = session.get(PENDING)
    if not pending or pending.get("path") != (path or request.path):
        return None
    session.pop(PENDING)
    return {k: (v[0] if len(v) == 1 else v) for k, v in pending["values"].items()}


def pending_path() -> str | None:
    pending = session.get(PENDING)
    return str(pending["path"]) if pending else None


def safe_next(target: str | None) -> str | None:
    """A place to go after login: a path on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
