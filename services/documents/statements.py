"""Reimbursement statements finance builds: copy the staged file into our own key layout and record it as a
document of kind `statement` under the id finance chose (the same id twice is one document)."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from services.common import audit
from services.common.db import utcnow

from .errors import StorageUnavailable
from .models import ACTIVE, RECEIVED, STORED, Document, DocumentVersion, StatusChange
from .retention import today
from .settings import DocumentsSettings
from .storage import Storage, reachable
from .uploads import object_key

log = structlog.get_logger(__name__)
SYSTEM = uuid.UUID(int=0)  # finance's scheduled builds have no person behind them


class StagedFileWrong(Exception):
    """The staged file is missing or not the bytes finance announced: a person must look."""


def register_statement(session: Session, storage: Storage, settings: DocumentsSettings, p: dict[str, Any]) -> str:
    """Store one statement file; returns `stored` or `known` (already recorded under that id)."""
    if session.get(Document, p["document_id"]) is not None:
        return "known"
    try:
        body = _read(storage, p["object_key"])
    except StorageUnavailable as exc:  # an outage: retried with backoff, not a dead letter at once
        raise ConnectionError("document storage unavailable") from exc
    if body is None or len(body) != p["size"] or hashlib.sha256(body).hexdigest() != p["sha256"]:
        raise StagedFileWrong(f"staged statement file {p['object_key']} is missing or differs")
    now = utcnow()
    uploader = p.get("requested_by") or SYSTEM
    doc = Document(
        id=p["document_id"],
        tenant_id=p["tenant_id"],
        school_id=None,
        region=p.get("region"),
        kind="statement",
        state=ACTIVE,
        status=RECEIVED,
        month=p["month"],
        uploaded_by=uploader,
        created_at=now,
        version_seq=1,
        current_version=1,
        retain_until=today(now) + timedelta(days=settings.retention_for("statement")),
        categories=[],
    )
    key = object_key(doc.tenant_id, now, doc.id, 1)
    meta = {"sha256": p["sha256"], "document-id": str(doc.id), "version": "1"}
    try:
        s3_version = storage.put(key, io.BytesIO(body), len(body), p["media_type"], meta, doc.retain_until)
    except StorageUnavailable as exc:
        raise ConnectionError("document storage unavailable") from exc
    session.add(doc)
    session.add(
        DocumentVersion(
            document_id=doc.id,
            tenant_id=doc.tenant_id,
            number=1,
            state=STORED,
            object_key=key,
            s3_version_id=s3_version,
            filename=p["filename"],
            media_type=p["media_type"],
            size=len(body),
            sha256=p["sha256"],
            duplicate_of=[],
            changes={},
            uploaded_by=uploader,
            created_at=now,
            stored_at=now,
        )
    )
    session.add(
        StatusChange(
            document_id=doc.id,
            tenant_id=doc.tenant_id,
            version=1,
            from_status=None,
            to_status=RECEIVED,
            source="finance",
            reasons=[],
            actor_id=uploader,
            applied=True,
        )
    )
    audit.record(
        session,
        None,
        "document.statement_registered",
        "document",
        doc.id,
        tenant_id=doc.tenant_id,
        actor_id=p.get("requested_by"),
        statement_id=p["statement_id"],
        month=p["month"],
        format=p["format"],
        sha256=p["sha256"],
    )
    session.flush()
    _remove_quietly(storage, p["object_key"])
    log.info("statement_stored", document_id=str(doc.id), statement_id=str(p["statement_id"]), format=p["format"])
    return "stored"


def _read(storage: Storage, key: str) -> bytes | None:
    from minio.error import S3Error

    storage.ready()
    with reachable("get"):
        try:
            resp = storage.client.get_object(storage.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return None
            raise
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()


def _remove_quietly(storage: Storage, key: str) -> None:
    try:
        storage.remove_all_versions(key)
    except Exception:  # a staged copy left behind costs space, not correctness
        log.warning("staged_statement_not_removed", exc_info=True)
