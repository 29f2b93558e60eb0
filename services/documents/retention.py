"""Retention: nothing is deleted before its retention ends, and a deletion leaves an audit record.

The bucket's object lock (when the server has it) holds each version until the same date, so not even
a bug here could delete early.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import Conflict

from . import access
from .models import DELETED, PURGED, STORED, AuditEvent, Document
from .storage import Storage

RIGA = ZoneInfo("Europe/Riga")


def today(now: datetime | None = None) -> date:
    """The date in Latvia: retention dates are dates of the calendar people keep."""
    return (now or utcnow()).astimezone(RIGA).date()


def delete_document(
    session: Session,
    storage: Storage,
    principal: Principal,
    document_id: uuid.UUID,
    reason: str,
    now: datetime | None = None,
) -> AuditEvent:
    """Delete every stored version of a document whose retention has ended; keep the record and an audit."""
    doc: Document = access.visible_document(session, principal, document_id, for_update=True)
    access.check_can_delete(principal, doc)
    if today(now) < doc.retain_until:
        raise Conflict(
            "retention_not_ended",
            f"This document is kept until {doc.retain_until.isoformat()}.",
            f"Šis dokuments jāglabā līdz {doc.retain_until.isoformat()}.",
            retain_until=doc.retain_until.isoformat(),
        )
    removed = []
    for version in doc.versions:
        if version.state == STORED:
            storage.remove_all_versions(version.object_key)  # raises before anything is marked
            removed.append(
                {
                    "version": version.number,
                    "sha256": version.sha256,
                    "size": version.size,
                    "media_type": version.media_type,
                }
            )
            version.state = PURGED
    doc.state = DELETED
    doc.deleted_at = now or utcnow()
    doc.deleted_by = uuid.UUID(principal.user_id)
    audit.record(
        session,
        principal,
        "document.deleted",
        "document",
        doc.id,
        tenant_id=doc.tenant_id,
        kind=doc.kind,
        retain_until=doc.retain_until,
        reason=reason,
        versions=removed,
    )
    return session.execute(
        select(AuditEvent)
        .where(AuditEvent.target_type == "document", AuditEvent.target_id == str(doc.id))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one()
