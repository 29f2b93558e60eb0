"""Server-side sessions in Redis behind an HttpOnly, SameSite=Lax cookie holding only a random id.

Each session is a Redis hash (key: a hash of the cookie's id, so a look into Redis gives no cookie); a
request writes back only the members it changed, so two requests of one person at once do not undo each
other. The tokens are kept apart (tokens.py). Idle sessions expire (PORTAL_SESSION_IDLE_SECONDS).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import redis
from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin

COOKIE = "pumpurs_session"
PREFIX = "portal:session:"
TOKENS = "portal:tokens:"  # tokens.PREFIX (kept apart; see tokens.py)
LOCK_PREFIX = "portal:tokens-lock:"


class PortalSession(dict[str, Any], SessionMixin):
    """A dict that remembers which members changed."""

    def __init__(self, sid: str | None, data: dict[str, Any] | None = None) -> None:
        super().__init__(data or {})
        self.sid = sid
        self.new = sid is None
        self.changed: set[str] = set()
        self.removed: set[str] = set()
        self.rotated_from: str | None = None

    @property
    def store_key(self) -> str | None:
        return _key(self.sid) if self.sid else None

    @property
    def modified(self) -> bool:  # type: ignore[override]
        return bool(self.changed or self.removed)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changed.add(key)
        self.removed.discard(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed.discard(key)
        self.removed.add(key)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        if key in self:
            value = super().pop(key)
            self.changed.discard(key)
            self.removed.add(key)
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def ensure_id(self) -> str:
        """Give a new session its id now (tokens and one-time form tokens are stored under it)."""
        if self.sid is None:
            self.sid = secrets.token_urlsafe(32)
        return self.sid

    def rotate(self) -> None:
        """A new id for the same content (at login: an id known before it must not open the session)."""
        self.rotated_from = self.sid
        self.sid = secrets.token_urlsafe(32)
        self.new = True
        self.changed.update(self.keys())


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class RedisSessionInterface(SessionInterface):
    def __init__(self, client: redis.Redis, idle_seconds: int, secure: bool) -> None:
        self.client = client
        self.idle = idle_seconds
        self.secure = secure

    def open_session(self, app: Flask, request: Request) -> PortalSession:
        sid = request.cookies.get(COOKIE)
        if not sid or len(sid) > 100:
            return PortalSession(None)
        raw = self.client.hgetall(PREFIX + _key(sid))
        if not raw:
            s = PortalSession(None)
            s.expired = True  # type: ignore[attr-defined]  # a cookie whose session is gone: it expired
            return s
        data = {k.decode(): json.loads(v) for k, v in raw.items() if k != b"_"}  # type: ignore[union-attr]
        return PortalSession(sid, data)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, PortalSession)
        if session.sid is None and not session.modified:
            return
        sid = session.ensure_id()
        key = PREFIX + _key(sid)
        pipe = self.client.pipeline()
        if session.rotated_from:
            old = _key(session.rotated_from)
            pipe.delete(PREFIX + old)
            pipe.delete(TOKENS + old, LOCK_PREFIX + old)
        if session.changed:
            pipe.hset(key, mapping={k: json.dumps(session[k]) for k in session.changed if k in session})
        if session.removed:
            pipe.hdel(key, *session.removed)
        if not dict(session) and not session.changed:
            pipe.delete(key)
        else:
            # a hash needs a member to exist: the id's creation time keeps an empty session alive
            pipe.hsetnx(key, "_", "0")
            pipe.expire(key, self.idle)
            pipe.expire(TOKENS + _key(sid), self.idle)
        pipe.execute()
        if session.new or session.rotated_from:
            response.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", secure=self.secure, path="/", max_age=None)
        response.vary.add("Cookie")

    def destroy(self, session: PortalSession, response: Response) -> None:
        """Forget the session entirely (logout)."""
        if session.sid:
            k = _key(session.sid)
            self.client.delete(PREFIX + k, TOKENS + k, LOCK_PREFIX + k)
        dict.clear(session)
        session.changed.clear()
        session.removed.clear()
        session.sid = None
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax", secure=self.secure)
