"""Documents' tables: document records, their versions (bytes in object storage), review history,
downloads and the audit."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.audit import AuditColumns, audit_table
from services.common.db import NAMING, UTCDateTime, utcnow
from services.common.messaging import messaging_tables


class Base(DeclarativeBase):
    """Documents' own metadata: no other service's tables in its database or its migrations."""

    metadata = MetaData(naming_convention=NAMING)


MESSAGING = messaging_tables(Base.metadata)

# review status, where a document is: `received` on every upload (stored; a kind without checks stays so),
# `queued` once its check message is with the broker, waiting for finance, then finance's verdict (`checking`
# is finance's to send)
RECEIVED, QUEUED, CHECKING = "received", "queued", "checking"
ACCEPTED, NEEDS_FIX, REJECTED = "accepted", "needs_fix", "rejected"
REVIEW_STATUSES = (RECEIVED, QUEUED, CHECKING, ACCEPTED, NEEDS_FIX, REJECTED)

# record state: `uploading` until the first version's bytes are stored, `deleted` after retention
UPLOADING, ACTIVE, DELETED = "uploading", "active", "deleted"
# version state (`uploading` as above; `abandoned`: the upload failed and was answered so, but the bytes may
# still land at S3 after our timeout; the sweep removes them and the row once the grace period has passed)
STORED, PURGED, ABANDONED = "stored", "purged", "abandoned"


class Document(Base):
    """One piece of evidence (a receipt, an attestation, an order...) with its metadata and status."""

    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_tenant_month", "tenant_id", "month"),
        Index("ix_documents_tenant_kind", "tenant_id", "kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    # the tenant's planning region, from the uploader's token, so regional grants can read it
    region: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20), default=UPLOADING)
    status: Mapped[str] = mapped_column(String(20), default=RECEIVED, index=True)
    student_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    plan_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    category: Mapped[str | None] = mapped_column(String(40))
    month: Mapped[date | None] = mapped_column(Date)  # first day of the month
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    issued_on: Mapped[date | None] = mapped_column(Date)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # attestations: the municipality or social service that issued it
    issuer: Mapped[str | None] = mapped_column(String(200))
    # applications: who signed (parent, guardian or student) and when
    signer: Mapped[str | None] = mapped_column(String(20))
    signed_on: Mapped[date | None] = mapped_column(Date)
    categories: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # expense documents that claim several costs: [{"category", "month": "YYYY-MM", "amount": "12.30"}]
    lines: Mapped[list[dict[str, str]] | None] = mapped_column(JSONB)
    current_version: Mapped[int] = mapped_column(Integer, default=0)  # 0 until the first is stored
    version_seq: Mapped[int] = mapped_column(Integer, default=0)  # only grows: keys are never reused
    retain_until: Mapped[date] = mapped_column(Date)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number", cascade="all, delete-orphan"
    )
    history: Mapped[list[StatusChange]] = relationship(order_by="StatusChange.id", cascade="all, delete-orphan")

    @property
    def stored_versions(self) -> list[DocumentVersion]:
        return [v for v in self.versions if v.state == STORED]


class DocumentVersion(Base):
    """One upload of a document's bytes; a new upload is a new version, nothing is overwritten."""

    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "number"),
        Index("ix_document_versions_tenant_sha256", "tenant_id", "sha256"),
        Index("ix_document_versions_unfinished", "created_at", postgresql_where="state IN ('uploading', 'abandoned')"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=UPLOADING)
    object_key: Mapped[str] = mapped_column(String(200), unique=True)
    s3_version_id: Mapped[str | None] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    duplicate_of: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # metadata given with this upload; applied to the document once the bytes are stored
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    document: Mapped[Document] = relationship(back_populates="versions")

    @property
    def duplicate(self) -> bool:
        return bool(self.duplicate_of)


class UploadKey(Base):
    """An upload's Idempotency-Key, per uploader: a retry with it answers the upload it names, never a second
    one. Kept `DOCUMENTS_IDEMPOTENCY_HOURS`; goes with its document when a failed upload is removed."""

    __tablename__ = "upload_keys"
    __table_args__ = (UniqueConstraint("uploaded_by", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    key: Mapped[str] = mapped_column(String(255))
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # SHA-256 of what was asked (target, metadata, the file's SHA-256): the same key for another upload is refused
    fingerprint: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    # the attempt the key names; none once the sweep removed it (a retry then starts afresh)
    version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("document_versions.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class StatusChange(Base):
    """One entry of a document's review history: an upload, or a verdict of finance with its reasons."""

    __tablename__ = "document_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    # a verdict on a version older than the current one is kept, but does not set the status
    applied: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(20))  # upload | retry (an Idempotency-Key's) | finance
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    message_id: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Download(Base):
    """Who was given a download link for which version, when."""

    __tablename__ = "document_downloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(AuditColumns, Base):
    """Who did what to a document (uploads, downloads, deletions...), kept after the bytes are gone;
    the kernel's shape, one table for every service."""

    __tablename__ = "audit_events"
    __table__ = audit_table(Base.metadata)

    @property
    def document_id(self) -> uuid.UUID | None:
        return uuid.UUID(self.target_id) if self.target_type == "document" else None
