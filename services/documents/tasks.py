"""Documents' Celery handlers: thin wrappers around domain functions."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.orm import Session

from . import review, statements, sweep
from .errors import StorageUnavailable
from .runtime import DocumentsRuntime

log = structlog.get_logger(__name__)


# what each handler writes to the audit (or why nothing); a test holds every consumed task to this
AUDIT: dict[str, tuple[str, ...] | str] = {
    "documents.set_review_status": ("document.review_status_set",),
    "documents.register_statement": ("document.statement_registered",),
    "documents.sweep_uploads": ("document.upload_removed",),
}


def register(runtime: DocumentsRuntime) -> None:
    @runtime.consumers.handler("documents.set_review_status")
    def set_review_status(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        review.apply_verdict(session, payload, meta["message_id"])

    @runtime.consumers.handler("documents.register_statement")
    def register_statement(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        statements.register_statement(session, runtime.storage, runtime.settings, payload)

    @runtime.consumers.handler("documents.sweep_uploads")
    def sweep_uploads(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        try:
            sweep.sweep_uploads(session, runtime.storage, runtime.settings)
        except StorageUnavailable:  # the next scheduled sweep tries again; no dead letter for an outage
            log.warning("sweep_skipped_storage_unavailable")
