"""Verdicts (finance's on evidence, plans' on applications): a document's review status and its history,
changed once per verdict."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.common import audit

from .kinds import CHECK_EXPENSE, REGISTER_APPLICATION, REGISTER_ATTESTATION
from .models import ACTIVE, QUEUED, RECEIVED, Document, StatusChange

log = structlog.get_logger(__name__)


class UnknownDocument(Exception):
    """A verdict for a document this service does not hold (for that tenant): a person must look."""


def checks_queued(conn: Connection, sent: list[Any]) -> None:
    """The outbox handed these messages to the broker: a document whose check is among them waits for its checker
    (`queued`: finance, or plans for an application), unless a newer version or the verdict came first."""
    waiting = [
        (uuid.UUID(str(row.payload["document_id"])), int(row.payload["version"]))
        for row in sent
        if row.task_name in (CHECK_EXPENSE, REGISTER_ATTESTATION, REGISTER_APPLICATION)
    ]
    if waiting:
        conn.execute(
            update(Document)
            .where(tuple_(Document.id, Document.current_version).in_(waiting), Document.status == RECEIVED)
            .values(status=QUEUED)
        )


def reasons_json(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("rule_id", "rule_version", "outcome", "explanation_lv", "explanation_en")
    return [{k: r[k] for k in keys} for r in reasons]


def apply_verdict(session: Session, payload: dict[str, Any], message_id: str | None) -> str:
    """Set the status from a verdict and keep it in the history.

    Returns `applied`, `unchanged` (the same verdict again, under another message id), `stale` (a
    verdict on an older version: kept in the history, the status stays) or `deleted`.
    """
    doc = session.execute(
        select(Document).where(Document.id == payload["document_id"]).with_for_update()
    ).scalar_one_or_none()
    if doc is None or doc.tenant_id != payload["tenant_id"] or doc.current_version == 0:
        raise UnknownDocument(f"no document {payload['document_id']} in tenant {payload['tenant_id']}")
    if doc.state != ACTIVE:
        log.info("verdict_for_deleted_document", document_id=str(doc.id))
        return "deleted"
    version = int(payload["version"])
    if version > doc.current_version:
        raise UnknownDocument(f"document {doc.id} has no version {version}")
    reasons = reasons_json(payload["reasons"])
    source = payload.get("source") or "finance"
    last = session.execute(
        select(StatusChange)
        .where(StatusChange.document_id == doc.id, StatusChange.version == version, StatusChange.source == source)
        .order_by(StatusChange.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is not None and last.to_status == payload["status"] and last.reasons == reasons:
        return "unchanged"
    current = version == doc.current_version
    session.add(
        StatusChange(
            document_id=doc.id,
            tenant_id=doc.tenant_id,
            version=version,
            from_status=doc.status,
            to_status=payload["status"],
            applied=current,
            source=source,
            reasons=reasons,
            message_id=message_id,
            at=payload["decided_at"],
        )
    )
    if current:
        doc.status = payload["status"]
    audit.record(
        session,
        None,
        "document.review_status_set",
        "document",
        doc.id,
        tenant_id=doc.tenant_id,
        version=version,
        status=payload["status"],
        applied=current,
        rules=[r["rule_id"] for r in reasons if r["outcome"] != "pass"],
    )
    log.info("verdict_recorded", document_id=str(doc.id), version=version, status=payload["status"], applied=current)
    return "applied" if current else "stale"
