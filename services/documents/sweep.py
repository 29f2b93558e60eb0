"""The sweep: remove what an upload cut short left behind, so no bytes stay without a record.

The one rule for uploads that did not finish (an intent row still `uploading` after `sweep_after_minutes`:
its process died or its database went away after the bytes left; or `abandoned`: its client was answered
that it failed, yet the bytes may have landed after our timeout): its client saw it fail (a 503, a 500 or a
dropped connection), so it never becomes a document here. Its bytes, whole or not, and its intent are
removed. A retry with the same Idempotency-Key is the one way such bytes become a document (uploads.resume),
inside that grace period; a retry without one is a new upload. Either way no ghost of the failed attempt is
checked, refused as double funding or notified. Expired Idempotency-Keys go too, and multipart uploads the
server still holds after a day are aborted, in case the server ignores the bucket's lifecycle rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.db import utcnow

from .models import ABANDONED, UPLOADING, Document, DocumentVersion, UploadKey
from .settings import DocumentsSettings
from .storage import Storage
from .uploads import Pending, abandon

log = structlog.get_logger(__name__)


@dataclass
class SweepReport:
    removed: list[str] = field(default_factory=list)
    aborted_multipart: int = 0
    expired_keys: int = 0


def sweep_uploads(
    session: Session,
    storage: Storage,
    settings: DocumentsSettings,
    now: datetime | None = None,
    limit: int = 200,
) -> SweepReport:
    """Remove every intent older than the grace period with its bytes (rows locked, others skip them)."""
    now = now or utcnow()
    report = SweepReport()
    stale = (
        session.execute(
            select(DocumentVersion)
            .where(
                DocumentVersion.state.in_((UPLOADING, ABANDONED)),
                DocumentVersion.created_at < now - timedelta(minutes=settings.sweep_after_minutes),
            )
            .order_by(DocumentVersion.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    for version in stale:
        doc = session.get(Document, version.document_id)
        assert doc is not None
        pending = Pending(
            doc.id,
            version.id,
            version.number,
            version.object_key,
            new_document=doc.current_version == 0,
            retain_until=doc.retain_until,
        )
        found = storage.stat(version.object_key)
        if found is not None:
            storage.remove_unrecorded(version.object_key)
        abandon(session, pending)
        audit.record(
            session,
            None,
            "document.upload_removed",
            "document",
            doc.id,
            tenant_id=doc.tenant_id,
            version=version.number,
            uploaded_by=version.uploaded_by,
            bytes_found=found is not None,
            answered_failed=version.state == ABANDONED,
        )
        report.removed.append(version.object_key)
    expired = session.execute(
        delete(UploadKey).where(UploadKey.created_at < now - timedelta(hours=settings.idempotency_hours))
    )
    report.expired_keys = int(getattr(expired, "rowcount", 0) or 0)
    report.aborted_multipart = storage.abort_stale_multipart(timedelta(hours=settings.abort_multipart_after_hours))
    if stale or report.aborted_multipart or report.expired_keys:
        log.info(
            "uploads_swept",
            removed=len(report.removed),
            aborted_multipart=report.aborted_multipart,
            expired_keys=report.expired_keys,
        )
    return report
