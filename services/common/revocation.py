"""Revoked sessions, shared through Redis so a logout ends access in every service at once."""

from __future__ import annotations

from collections.abc import Iterable

import redis

_PREFIX = "pumpurs:revoked-sid:"


class RevocationList:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def revoke(self, session_ids: Iterable[str], ttl_seconds: int) -> None:
        """Remember revoked sessions until their last access token has expired."""
        pipe = self.client.pipeline()
        for sid in session_ids:
            pipe.set(_PREFIX + sid, "1", ex=max(1, ttl_seconds))
        pipe.execute()

    def is_revoked(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        return bool(self.client.exists(_PREFIX + str(session_id)))
