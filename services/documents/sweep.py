"""The sweep: repair uploads a crash left half-done, so no record lacks its object and no object its record.

An intent row still `uploading` after `sweep_after_minutes` is completed when its object is there and
matches what was recorded (size and SHA-256), and removed when it is not. An `abandoned` one (its client
was answered that the upload failed, yet the bytes may have landed after our timeout) is removed with any
bytes it has. Multipart uploads the server
still holds after a day are aborted, in case the server ignores the bucket's lifecycle rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.db import utcnow
from services.common.messaging import Outbox

from .models import ABANDONED, UPLOADING, Document, DocumentVersion
from .settings import DocumentsSettings
from .storage import Storage
from .uploads import Pending, abandon, finish

log = structlog.get_logger(__name__)


@dataclass
class SweepReport:
    completed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    aborted_multipart: int = 0


def sweep_uploads(
    session: Session,
    storage: Storage,
    outbox: Outbox,
    settings: DocumentsSettings,
    now: datetime | None = None,
    limit: int = 200,
) -> SweepReport:
    """Complete or remove every intent older than the grace period (rows locked, others skip them)."""
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
        answered_failed = version.state == ABANDONED
        complete = found is not None and found.size == version.size and found.metadata.get("sha256") == version.sha256
        if complete and not answered_failed:  # a crash after the bytes were stored: finish the upload
            assert found is not None
            finish(session, outbox, pending, found.version_id, source="sweep")
            report.completed.append(version.object_key)
        else:
            # no bytes, bytes that are not what was recorded, or an upload its client was told had failed:
            # never keep bytes unrecorded
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
                answered_failed=answered_failed,
            )
            report.removed.append(version.object_key)
    report.aborted_multipart = storage.abort_stale_multipart(timedelta(hours=settings.abort_multipart_after_hours))
    if stale or report.aborted_multipart:
        log.info(
            "uploads_swept",
            completed=len(report.completed),
            removed=len(report.removed),
            aborted_multipart=report.aborted_multipart,
        )
    return report
