"""Who is signed in: every page needs a signed-in person unless its view is marked `public`.

The session holds the person as identity describes them (`/auth/me`: name, language, role grants); the
tokens are kept apart (tokens.py). A POST that comes after the session ended keeps its form's content
for the next login (security.keep_pending_form).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Flask, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from .client import ApiProblem, Client, SessionEnded, forwarded_headers, transport
from .i18n import COOKIE, LANGUAGES
from .security import keep_pending_form, safe_next
from .tokens import Tokens, keeper_for

F = TypeVar("F", bound=Callable[..., Any])

ALWAYS_PUBLIC = {"static", "healthz", "readyz"}


def public(view: F) -> F:
    """Mark a page that needs no signed-in person (login, the accessibility statement, ...)."""
    view._public = True  # type: ignore[attr-defined]
    return view


def is_public(endpoint: str | None) -> bool:
    if endpoint is None or endpoint in ALWAYS_PUBLIC:
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "_public", False))


def current_user() -> dict[str, Any] | None:
    return session.get("user") if session else None  # type: ignore[no-any-return]


def roles() -> set[str]:
    user = current_user()
    return {g_["role"] for g_ in (user or {}).get("roles", [])}


def login_url(next_path: str | None = None) -> str:
    target = safe_next(next_path)
    return url_for("accounts.login") + (f"?{urlencode({'next': target})}" if target else "")


def to_login(*, ended: bool) -> Response:
    """Send the person to log in again, keeping the form they were sending and where they were going."""
    keep_pending_form()
    if ended:
        session["session_ended"] = True
    back = request.full_path.rstrip("?") if request.method == "GET" else request.path
    return redirect(login_url(back), 303)


def require_login() -> Response | None:
    """before_request: a signed-in person with tokens for every page but the public ones."""
    if is_public(request.endpoint):
        return None
    if current_user():
        keeper = keeper_for(session.store_key)  # type: ignore[attr-defined]
        if keeper.present():
            g.portal_keeper = keeper
            return None
        session.pop("user", None)
        return to_login(ended=True)
    return to_login(ended=bool(getattr(session, "expired", False)))


def sign_in(tokens_answer: dict[str, Any]) -> dict[str, Any]:
    """After identity accepted the password: a new session id, the tokens stored, the person read."""
    session.rotate()  # type: ignore[attr-defined]
    session.pop("session_ended", None)
    keeper = keeper_for(session.store_key)  # type: ignore[attr-defined]
    keeper.save(Tokens.from_answer(tokens_answer))
    g.portal_keeper = keeper
    me = Client(transport(), keeper, forwarded_headers()).get("identity", "/auth/me")
    user = {
        "id": me["id"],
        "email": me["email"],
        "full_name": me["full_name"],
        "language": me.get("language") or "lv",
        "tenant_id": me.get("tenant_id"),
        "region": me.get("region"),
        "roles": [
            {k: r.get(k) for k in ("role", "tenant_id", "school_id", "region") if r.get(k)} for r in me.get("roles", [])
        ],
    }
    session["user"] = user
    g.pop("portal_client", None)
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES and chosen != user["language"]:
        # the switch used before logging in is the person's latest choice: identity remembers it too
        try:
            Client(transport(), keeper, forwarded_headers()).patch("identity", "/auth/me", {"language": chosen})
            user["language"] = chosen
            session["user"] = user
        except ApiProblem:
            pass
    return user


def refresh_user(changes: dict[str, Any]) -> None:
    user = dict(current_user() or {})
    user.update(changes)
    session["user"] = user


def install(app: Flask) -> None:
    app.before_request(require_login)

    @app.errorhandler(SessionEnded)
    def _ended(_exc: SessionEnded) -> Response:
        session.pop("user", None)
        return to_login(ended=True)
