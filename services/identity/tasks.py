"""Identity's Celery handlers: thin wrappers around domain functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.common.runtime import ServiceRuntime

from . import sessions


def register(runtime: ServiceRuntime) -> None:
    @runtime.consumers.handler("identity.purge_expired_sessions")
    def purge_expired_sessions(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        sessions.purge_expired(session)
