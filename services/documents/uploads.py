"""An upload from bytes to a stored, announced version: refuse early, record the intent, stream the
bytes, then record them and send finance its message in the same commit.

The order keeps storage and database together: the intent row (state `uploading`) is committed before
the bytes go out, set aside (`abandoned`) when storage fails, and a crash in between leaves only an intent
row. An upload becomes a document only through its own request or a retry of it with the same
Idempotency-Key (which finishes the intent when its bytes landed whole); the sweep removes every intent
left over (sweep.py), so a client that saw its upload fail and sent it again never gets a second document.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any

import structlog
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from services.common import audit
from services.common.auth import Principal
from services.common.db import Database, utcnow
from services.common.errors import dependency_down
from services.common.messaging import Outbox

from . import access, filecheck
from .errors import IdempotencyKeyReused, StorageUnavailable, UploadInProgress, UploadNotStored
from .kinds import CHECK_EXPENSE, KINDS, REGISTER_APPLICATION, REGISTER_ATTESTATION
from .models import (
    ABANDONED,
    ACTIVE,
    RECEIVED,
    STORED,
    UPLOADING,
    Document,
    DocumentVersion,
    StatusChange,
    UploadKey,
)
from .retention import today
from .settings import DocumentsSettings
from .storage import Storage

log = structlog.get_logger(__name__)

METADATA = (
    "student_id",
    "plan_id",
    "category",
    "month",
    "amount",
    "issued_on",
    "valid_from",
    "valid_to",
    "categories",
    "issuer",
    "lines",
    "signer",
    "signed_on",
)
MAX_AMOUNT = Decimal("1000000.00")


@dataclass(frozen=True)
class Pending:
    """An upload whose intent is recorded and whose bytes are on their way."""

    document_id: uuid.UUID
    version_id: uuid.UUID
    number: int
    key: str
    new_document: bool
    retain_until: date


@dataclass(frozen=True)
class Idempotency:
    """An upload's Idempotency-Key and the fingerprint of what it asked for."""

    key: str
    fingerprint: str


def object_key(tenant_id: uuid.UUID, created_at: datetime, document_id: uuid.UUID, number: int) -> str:
    """Where a version's bytes live: tenant, year, month, document, version; nothing personal."""
    return f"{tenant_id}/{created_at:%Y}/{created_at:%m}/{document_id}/v{number}"


def check_metadata(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The metadata a kind needs, complete and sane; raise 422 naming each bad field."""
    spec = KINDS[kind]
    errors: dict[str, str] = {}
    for name in spec.required:
        if values.get(name) in (None, "", []):
            errors[name] = "Required for this kind of document. / Šim dokumenta veidam obligāts."
    amount = values.get("amount")
    if amount is not None and not _euros(amount):
        errors["amount"] = "A positive amount in euros with at most two decimals. / Summa eiro, līdz 2 zīmēm."
    start, end = values.get("valid_from"), values.get("valid_to")
    if start and end and start > end:
        errors["valid_to"] = "Must not be before valid_from. / Nevar būt pirms valid_from."
    lines = values.get("lines")
    if lines:
        problem = _lines_problem(spec.message, lines, amount)
        if problem:
            errors["lines"] = problem
    if errors:
        raise access.invalid(**errors)
    if amount is not None:
        values["amount"] = amount.quantize(Decimal("0.01"))
    if lines:
        values["lines"] = [_stored_line(x) for x in lines]
    return values


def _euros(amount: Decimal) -> bool:
    """A positive amount up to MAX_AMOUNT with at most two decimals."""
    return 0 < amount <= MAX_AMOUNT and int(amount.as_tuple().exponent) >= -2


def _lines_problem(message: str | None, lines: list[dict[str, Any]], amount: Decimal | None) -> str | None:
    """Lines belong to expense documents, each a sane amount, together the document's amount."""
    if message != CHECK_EXPENSE:
        return "Only expense documents have lines. / Rindas var būt tikai izdevumu dokumentiem."
    amounts = [Decimal(str(x["amount"])) for x in lines]
    if not all(_euros(a) for a in amounts):
        return "Each line: a positive amount in euros, at most two decimals. / Katrā rindā pozitīva summa eiro."
    if amount is not None and sum(amounts, Decimal("0")) != amount:
        return "The lines must add up to the amount. / Rindu summai jāsakrīt ar kopsummu."
    return None


def _stored_line(line: dict[str, Any]) -> dict[str, str]:
    """A line as the record keeps it (JSON): the month as YYYY-MM, the amount with two decimals."""
    month = line["month"]
    return {
        "category": line["category"],
        "month": month.strftime("%Y-%m") if isinstance(month, date) else str(month)[:7],
        "amount": str(Decimal(str(line["amount"])).quantize(Decimal("0.01"))),
    }


def store_upload(
    db: Database,
    storage: Storage,
    outbox: Outbox,
    settings: DocumentsSettings,
    *,
    principal: Principal,
    stream: IO[bytes],
    filename: str | None,
    kind: str | None = None,
    tenant_id: uuid.UUID | None = None,
    school_id: uuid.UUID | None = None,
    document_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Refuse, record the intent, stream the bytes, record them: a new document, or a new version of one.

    With an Idempotency-Key, a retry of the same upload answers the first one's document (`replayed`), a
    request while it still runs is told to wait, and the key used for another upload is refused."""
    changes = {k: v for k, v in (metadata or {}).items() if k in METADATA and v is not None}
    if document_id is not None:
        with db.session() as session:
            doc = access.visible_document(session, principal, document_id)
            access.check_can_add_version(principal, doc)
            kind, tenant_id, school_id = doc.kind, doc.tenant_id, doc.school_id
            merged = check_metadata(kind, {**{k: getattr(doc, k) for k in METADATA}, **changes})
            changes = {k: merged[k] for k in changes}
    else:
        assert kind is not None
        tenant_id, school_id = access.upload_target(principal, kind, tenant_id, school_id)
        changes = check_metadata(kind, changes)
    inspected = filecheck.inspect_file(
        stream, filename=filename or "", allowed=KINDS[kind].media_types, max_bytes=settings.max_upload_bytes
    )
    name = filecheck.safe_filename(filename, inspected.media_type)

    def upload(idempotency: Idempotency | None) -> dict[str, Any]:
        assert kind is not None and tenant_id is not None
        with db.session() as session:
            pending = begin(
                session,
                settings,
                principal=principal,
                kind=kind,
                tenant_id=tenant_id,
                school_id=school_id,
                document_id=document_id,
                metadata=changes,
                filename=name,
                inspected=inspected,
                idempotency=idempotency,
            )
        try:
            s3_version = storage.put(
                pending.key,
                stream,
                inspected.size,
                inspected.media_type,
                {"sha256": inspected.sha256, "document-id": str(pending.document_id), "version": str(pending.number)},
                retain_until=pending.retain_until,
            )
        except StorageUnavailable as exc:
            _set_aside(db, pending)
            raise UploadNotStored("storage_unavailable") from exc
        except BaseException:
            _set_aside(db, pending)
            raise
        try:
            with db.session() as session:
                return finish(session, outbox, pending, s3_version, source="upload")
        except Exception as exc:
            if dependency_down(exc):  # the bytes are stored, their record may not be: the sweep removes them
                raise UploadNotStored("unavailable") from exc
            raise

    if idempotency_key is None:
        return upload(None)
    idempotency = Idempotency(
        idempotency_key,
        fingerprint(
            kind=kind,
            tenant_id=tenant_id,
            school_id=school_id,
            document_id=document_id,
            metadata=changes,
            file=inspected,
        ),
    )
    uploader = uuid.UUID(principal.user_id)
    with holding(db, uploader, idempotency_key):
        with db.session() as session:
            earlier = resume(session, storage, outbox, settings, uploader, idempotency)
        return earlier if earlier is not None else upload(idempotency)


def fingerprint(
    *,
    kind: str,
    tenant_id: uuid.UUID,
    school_id: uuid.UUID | None,
    document_id: uuid.UUID | None,
    metadata: dict[str, Any],
    file: filecheck.Inspected,
) -> str:
    """What an upload asks for, as one hash: where it goes, its metadata and its bytes (not its file name)."""
    asked = {
        "kind": kind,
        "tenant_id": str(tenant_id),
        "school_id": str(school_id) if school_id else None,
        "document_id": str(document_id) if document_id else None,
        "metadata": encode_changes(metadata),
        "sha256": file.sha256,
        "size": file.size,
    }
    return hashlib.sha256(json.dumps(asked, sort_keys=True, default=str).encode()).hexdigest()


@contextmanager
def holding(db: Database, uploader: uuid.UUID, key: str) -> Iterator[None]:
    """Hold an Idempotency-Key while this request uploads: another request with it meanwhile is told to wait.
    A PostgreSQL session lock on a connection of its own, so a process that dies lets go with its connection
    (and a retry may then take over what it left)."""
    lock = text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))")
    name = {"k": f"upload-key:{uploader}:{key}"}
    with db.engine.connect() as conn:
        held = bool(conn.execute(lock, name).scalar())
        conn.commit()  # a session lock outlives the transaction; nothing stays open meanwhile
        if not held:
            raise UploadInProgress()
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), name)
                conn.commit()
            except Exception:  # the database is away: closing the connection lets go of the lock
                conn.invalidate()


def resume(
    session: Session,
    storage: Storage,
    outbox: Outbox,
    settings: DocumentsSettings,
    uploader: uuid.UUID,
    idempotency: Idempotency,
) -> dict[str, Any] | None:
    """The answer an Idempotency-Key already has, or None to upload afresh.

    Stored: that upload's answer again. Cut short (its process died, or its client was told it failed) with
    its bytes whole in storage: finished now, as the retry's answer. Cut short otherwise: set aside for the
    sweep, and the key goes to this retry's own attempt."""
    # the key row is not locked: the session lock (holding) keeps requests with it apart, and the sweep, which
    # locks an intent before its key (a cascade), must not wait on us while we wait on it
    bound = session.execute(
        select(UploadKey).where(UploadKey.uploaded_by == uploader, UploadKey.key == idempotency.key)
    ).scalar_one_or_none()
    if bound is None:
        return None
    free = delete(UploadKey).where(UploadKey.id == bound.id)
    if bound.created_at < utcnow() - timedelta(hours=settings.idempotency_hours):
        session.execute(free)  # expired: the key is free again
        return None
    if bound.fingerprint != idempotency.fingerprint:
        raise IdempotencyKeyReused()
    version = session.execute(
        select(DocumentVersion).where(DocumentVersion.id == bound.version_id).with_for_update()
    ).scalar_one_or_none()
    doc = session.get(Document, bound.document_id) if version is not None else None
    if version is None or doc is None:  # the sweep removed the attempt: start afresh
        session.execute(free)
        return None
    if version.state not in (UPLOADING, ABANDONED):
        session.refresh(doc, ["versions", "history"])  # answered as a read shows it, like the first time
        return {**answer(doc, version), "replayed": True}
    found = storage.stat(version.object_key)
    if found is not None and found.size == version.size and found.metadata.get("sha256") == version.sha256:
        version.state = UPLOADING
        pending = Pending(
            doc.id, version.id, version.number, version.object_key, doc.current_version == 0, doc.retain_until
        )
        return {**finish(session, outbox, pending, found.version_id, source="retry"), "replayed": True}
    version.state = ABANDONED  # whatever lands later is removed by the sweep
    session.execute(free)
    return None


def begin(
    session: Session,
    settings: DocumentsSettings,
    *,
    principal: Principal,
    kind: str,
    tenant_id: uuid.UUID,
    school_id: uuid.UUID | None,
    document_id: uuid.UUID | None,
    metadata: dict[str, Any],
    filename: str,
    inspected: filecheck.Inspected,
    idempotency: Idempotency | None = None,
) -> Pending:
    """Record the intent: the document (new, hidden until stored) or a locked one, a version row, and the
    upload's Idempotency-Key naming them."""
    now = utcnow()
    uploader = uuid.UUID(principal.user_id)
    if document_id is None:
        doc = Document(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            school_id=school_id,
            kind=kind,
            state=UPLOADING,
            status=RECEIVED,
            region=principal.region if principal.tenant_id == str(tenant_id) else None,
            uploaded_by=uploader,
            created_at=now,
            version_seq=0,
            current_version=0,
            retain_until=today(now) + timedelta(days=settings.retention_for(kind)),
            categories=[],
        )
        session.add(doc)
    else:
        doc = session.execute(select(Document).where(Document.id == document_id).with_for_update()).scalar_one()
    if document_id is None:
        apply_changes(doc, metadata)
    doc.version_seq += 1  # never reused, so a key is written once
    number = doc.version_seq
    version = DocumentVersion(
        id=uuid.uuid4(),
        document_id=doc.id,
        tenant_id=doc.tenant_id,
        number=number,
        state=UPLOADING,
        object_key=object_key(doc.tenant_id, doc.created_at, doc.id, number),
        filename=filename,
        media_type=inspected.media_type,
        size=inspected.size,
        sha256=inspected.sha256,
        duplicate_of=[],
        changes=encode_changes(metadata),
        uploaded_by=uploader,
        created_at=now,
    )
    session.add(version)
    session.flush()
    if idempotency is not None:
        session.add(
            UploadKey(
                uploaded_by=uploader,
                key=idempotency.key,
                tenant_id=doc.tenant_id,
                fingerprint=idempotency.fingerprint,
                document_id=doc.id,
                version_id=version.id,
                created_at=now,
            )
        )
        session.flush()
    return Pending(doc.id, version.id, number, version.object_key, document_id is None, doc.retain_until)


def finish(
    session: Session, outbox: Outbox, pending: Pending, s3_version: str | None, *, source: str
) -> dict[str, Any]:
    """Record the stored bytes, flag duplicates, reset the status and send finance its message."""
    version = session.execute(
        select(DocumentVersion).where(DocumentVersion.id == pending.version_id).with_for_update()
    ).scalar_one_or_none()
    if version is None or version.state != UPLOADING:
        raise RuntimeError("the upload's intent record is gone")  # the sweep got there first
    doc = session.execute(select(Document).where(Document.id == version.document_id).with_for_update()).scalar_one()
    earlier = session.execute(
        select(DocumentVersion.document_id, DocumentVersion.stored_at)
        .where(
            DocumentVersion.tenant_id == doc.tenant_id,
            DocumentVersion.sha256 == version.sha256,
            DocumentVersion.state == STORED,
            DocumentVersion.id != version.id,
        )
        .order_by(DocumentVersion.stored_at)
        .limit(50)
    ).all()
    version.duplicate_of = list(dict.fromkeys(str(row.document_id) for row in earlier))[:20]
    version.state = STORED
    version.stored_at = utcnow()
    version.s3_version_id = s3_version
    apply_changes(doc, decode_changes(version.changes or {}))
    previous = doc.status if doc.current_version else None
    doc.current_version = version.number
    doc.state = ACTIVE
    doc.status = RECEIVED
    change = StatusChange(
        document_id=doc.id,
        tenant_id=doc.tenant_id,
        version=version.number,
        from_status=previous,
        to_status=RECEIVED,
        source=source,
        reasons=[],
        actor_id=version.uploaded_by,
        applied=True,
    )
    session.add(change)
    message = KINDS[doc.kind].message
    if message is not None:
        outbox.publish(session, message, finance_payload(doc, version))
    audit.record(
        session,
        None,
        "document.uploaded" if version.number == 1 else "document.version_added",
        "document",
        doc.id,
        tenant_id=doc.tenant_id,
        actor_id=version.uploaded_by,
        version=version.number,
        kind=doc.kind,
        media_type=version.media_type,
        size=version.size,
        sha256=version.sha256,
        duplicate=bool(version.duplicate_of),
        source=source,
    )
    session.flush()
    log.info(
        "document_stored",
        document_id=str(doc.id),
        version=version.number,
        kind=doc.kind,
        duplicate=bool(version.duplicate_of),
        source=source,
    )
    # the answer is the document as a read shows it: a new one has this version and this entry only
    if previous is None:
        set_committed_value(doc, "versions", [version])
        set_committed_value(doc, "history", [change])
    else:
        session.refresh(doc, ["versions", "history"])
    return answer(doc, version)


def answer(doc: Document, version: DocumentVersion) -> dict[str, Any]:
    """What an upload answers: the document (its versions and history loaded), the version stored, and whether
    the same bytes were there."""
    return {
        "document": doc,
        "version": version,
        "duplicate": bool(version.duplicate_of),
        "duplicate_of": version.duplicate_of,
    }


def encode_changes(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, list) else str(v) for k, v in changes.items()}


_UUIDS = ("student_id", "plan_id")
_DATES = ("month", "issued_on", "valid_from", "valid_to", "signed_on")


def decode_changes(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _UUIDS:
            out[key] = uuid.UUID(value)
        elif key in _DATES:
            out[key] = date.fromisoformat(value)
        elif key == "amount":
            out[key] = Decimal(value)
        elif key in METADATA:
            out[key] = value
    return out


def apply_changes(doc: Document, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if key in METADATA:
            setattr(doc, key, value)


def finance_payload(doc: Document, version: DocumentVersion) -> dict[str, Any]:
    """The facts finance (or plans, for an application) checks, per the contract; ids and the checksum, never a
    name or the bytes."""
    body: dict[str, Any] = {
        "document_id": str(doc.id),
        "version": version.number,
        "tenant_id": str(doc.tenant_id),
        "school_id": str(doc.school_id) if doc.school_id else None,
        "student_id": str(doc.student_id),
        "sha256": version.sha256,
        "size": version.size,
        "media_type": version.media_type,
        "duplicate_in_tenant": bool(version.duplicate_of),
        "duplicate_of": version.duplicate_of,
        "uploaded_by": str(version.uploaded_by),
        "uploaded_at": version.stored_at or version.created_at,
    }
    if KINDS[doc.kind].message == REGISTER_ATTESTATION:
        body.update(
            plan_id=str(doc.plan_id) if doc.plan_id else None,
            issued_on=doc.issued_on,
            valid_from=doc.valid_from,
            valid_to=doc.valid_to,
            categories=list(doc.categories or []),
            issuer=doc.issuer,
        )
    elif KINDS[doc.kind].message == REGISTER_APPLICATION:
        body.update(plan_id=str(doc.plan_id), signer=doc.signer, signed_on=doc.signed_on)
    else:
        body.update(kind=doc.kind, plan_id=str(doc.plan_id), category=doc.category, month=doc.month, amount=doc.amount)
        if doc.lines:
            body["lines"] = [{**x, "month": f"{x['month']}-01"} for x in doc.lines]
    return body


def abandon(session: Session, pending: Pending) -> None:
    """Take back an intent whose bytes never arrived: the version row, and a document that has no other."""
    session.execute(
        delete(DocumentVersion).where(
            DocumentVersion.id == pending.version_id, DocumentVersion.state.in_((UPLOADING, ABANDONED))
        )
    )
    if pending.new_document:
        session.execute(delete(Document).where(Document.id == pending.document_id, Document.state == UPLOADING))


def _set_aside(db: Database, pending: Pending) -> None:
    """The PUT failed and the client is told so; mark the intent for the sweep rather than delete it at once.

    A PUT that timed out on our side may still be written by the server (seen with SeaweedFS coming back
    up): deleting the record now would leave those bytes with nothing pointing at them. The sweep removes
    the object, if any, then the record, after the grace period. Nobody sees the intent meanwhile."""
    try:
        with db.session() as session:
            session.execute(
                update(DocumentVersion)
                .where(DocumentVersion.id == pending.version_id, DocumentVersion.state == UPLOADING)
                .values(state=ABANDONED)
            )
    except Exception:  # the database is away too: the row stays `uploading`, and the sweep looks at it later
        log.warning("upload_abandon_deferred", document_id=str(pending.document_id), exc_info=True)
