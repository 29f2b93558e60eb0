"""Identity's Celery handlers: thin wrappers around domain functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.common.runtime import ServiceRuntime

from . import sessions

# what each handler writes to the audit (or why nothing); a test holds every consumed task to this
AUDIT: dict[str, tuple[str, ...] | str] = {
    "identity.purge_expired_sessions": ("sessions.purged",),
}


def register(runtime: ServiceRuntime) -> None:
    @runtime.consumers.handler("identity.purge_expired_sessions")
    def purge_expired_sessions(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        sessions.purge_expired(session)
