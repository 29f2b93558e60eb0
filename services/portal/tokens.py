"""A signed-in person's tokens, server-side in Redis next to their session (never in the browser).

They live in a key of their own, written only here: a page that saved its session at the end could
otherwise write back the tokens it had read before another request renewed them, and the next call
would present a refresh token already traded in, which ends the session in identity (each refresh token
works once). Renewal takes a Redis lock, so of several calls that find the access token expired at once,
in any thread or process, one renews and the others use its result.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from flask import current_app, g, session

from .client import ServiceUnavailable, SessionEnded

PREFIX = "portal:tokens:"
LOCK_PREFIX = "portal:tokens-lock:"
RENEW_EARLY = 30  # seconds before expiry a token counts as expired (clocks, the call's own time)
LOCK_WAIT = 10.0


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float  # time.time() when the access token expires

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> Tokens:
        return cls(body["access_token"], body["refresh_token"], time.time() + int(body.get("expires_in", 900)))

    def dumps(self) -> str:
        return json.dumps({"a": self.access_token, "r": self.refresh_token, "e": self.expires_at})

    @classmethod
    def loads(cls, raw: bytes | str) -> Tokens:
        d = json.loads(raw)
        return cls(d["a"], d["r"], float(d["e"]))


class TokenKeeper:
    """The tokens of one session; safe to share between the threads of one page's calls."""

    def __init__(self, client: redis.Redis, session_key: str, ttl: int, renew: Any) -> None:
        self.client = client
        self.key = PREFIX + session_key
        self.lock_key = LOCK_PREFIX + session_key
        self.ttl = ttl
        self._renew_call = renew  # (refresh_token) -> answer dict, raises SessionEnded / ServiceUnavailable
        self._local = threading.Lock()
        self._tokens: Tokens | None = None

    def load(self) -> Tokens | None:
        try:
            raw = self.client.get(self.key)
        except redis.RedisError as exc:
            raise ServiceUnavailable("portal", "session store") from exc
        return Tokens.loads(raw) if raw else None  # type: ignore[arg-type]

    def save(self, tokens: Tokens) -> None:
        self.client.set(self.key, tokens.dumps(), ex=self.ttl)
        self._tokens = tokens

    def present(self) -> bool:
        return self.current() is not None

    def current(self) -> Tokens | None:
        if self._tokens is None:
            self._tokens = self.load()
        return self._tokens

    def access_token(self) -> str:
        tokens = self.current()
        if tokens is None:
            raise SessionEnded("no_tokens")
        if tokens.expires_at - RENEW_EARLY <= time.time():
            return self.renew(tokens.access_token)
        return tokens.access_token

    def renew(self, seen: str | None) -> str:
        """A fresh access token in place of `seen`: renewed here, or by whoever renewed it meanwhile."""
        with self._local:
            latest = self.load()
            if latest is None:
                raise SessionEnded("no_tokens")
            if latest.access_token != seen and latest.expires_at - RENEW_EARLY > time.time():
                self._tokens = latest
                return latest.access_token
            deadline = time.monotonic() + LOCK_WAIT
            while not self.client.set(self.lock_key, "1", nx=True, px=int(LOCK_WAIT * 1000)):
                time.sleep(0.05)
                latest = self.load()
                if latest is None:
                    raise SessionEnded("no_tokens")
                if latest.access_token != seen:
                    self._tokens = latest
                    return latest.access_token
                if time.monotonic() > deadline:
                    raise ServiceUnavailable("identity", "token renewal did not finish")
            try:
                latest = self.load()
                if latest is None:
                    raise SessionEnded("no_tokens")
                if latest.access_token != seen and latest.expires_at - RENEW_EARLY > time.time():
                    self._tokens = latest
                    return latest.access_token
                fresh = Tokens.from_answer(self._renew_call(latest.refresh_token))
                self.save(fresh)
                return fresh.access_token
            finally:
                self.client.delete(self.lock_key)

    def ended(self) -> None:
        """Identity ended the session: forget the tokens (the person logs in again)."""
        self.client.delete(self.key)
        self._tokens = None

    def touch(self) -> None:
        self.client.expire(self.key, self.ttl)


def _renewer(app: Any) -> Any:
    transport = app.extensions["portal.transport"]

    def renew(refresh_token: str) -> dict[str, Any]:
        resp = transport.send("identity", "POST", "/auth/refresh", token=None, json={"refresh_token": refresh_token})
        if resp.status_code == 200:
            return resp.json()  # type: ignore[no-any-return]
        if resp.status_code in (400, 401, 422):
            raise SessionEnded("refresh_refused")
        raise ServiceUnavailable("identity", f"refresh answered {resp.status_code}")

    return renew


def keeper_for(session_key: str) -> TokenKeeper:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return TokenKeeper(
        app.extensions["portal.redis"],
        session_key,
        app.extensions["portal.settings"].session_idle_seconds,
        _renewer(app),
    )


def current_keeper() -> TokenKeeper | None:
    """The keeper of the signed-in person's tokens, or None for an anonymous visitor."""
    found = g.get("portal_keeper")
    if found is None:
        key = getattr(session, "store_key", None)
        if not key or not session.get("user"):
            return None
        found = g.portal_keeper = keeper_for(key)
    return found  # type: ignore[no-any-return]
