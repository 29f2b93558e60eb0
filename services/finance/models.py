"""Finance's tables: programme settings by revision, read models of tenants and plans, attestations, claims
with their check runs and results, overrides, reservations, consultations owed, and statements.

Students appear only as ids and the keyed hash plans sends (`student_key`); never a name or a code.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, MetaData, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.audit import AuditColumns, audit_table
from services.common.db import NAMING, UTCDateTime, utcnow
from services.common.messaging import messaging_tables


class Base(DeclarativeBase):
    """Finance's own metadata: no other service's tables in its database or its migrations."""

    metadata = MetaData(naming_convention=NAMING)


MESSAGING = messaging_tables(Base.metadata)

Money = Numeric(12, 2)
Hours = Numeric(6, 2)


def _uuid() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


# ---- programme settings -------------------------------------------------------------------------


class SettingsRevision(Base):
    """One full set of programme settings, in force from `effective_from` until a newer revision is."""

    __tablename__ = "programme_settings"

    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    effective_from: Mapped[date] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    example_values: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---- read models (replaced by messages from identity and plans) --------------------------------


class TenantRM(Base):
    __tablename__ = "tenants_rm"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    registration_number: Mapped[str | None] = mapped_column(String(20))  # statements carry it
    region: Mapped[str] = mapped_column(String(20), index=True)
    student_count: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)


class SchoolRM(Base):
    __tablename__ = "schools_rm"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    student_count: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)


class PlanRM(Base):
    """A plan as it matters to money, from plans' snapshots; replaced when a newer revision arrives."""

    __tablename__ = "plans_rm"
    __table_args__ = (Index("ix_plans_rm_tenant_semester", "tenant_id", "semester"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(60))
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    student_key: Mapped[str] = mapped_column(String(64), index=True)
    semester: Mapped[str] = mapped_column(String(40))
    semester_start: Mapped[date] = mapped_column(Date)
    semester_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    prepared_on: Mapped[date] = mapped_column(Date)
    preparation_hours: Mapped[Decimal] = mapped_column(Hours)
    planned_financing: Mapped[Decimal | None] = mapped_column(Money)
    measures: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # the day finance first saw the plan in progress: its preparation hours are owed from that month on
    started_on: Mapped[date | None] = mapped_column(Date)
    paid_so_far: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    paid_revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# ---- attestations -------------------------------------------------------------------------------


class Attestation(Base):
    """A municipality's (or its social service's) attestation that it does not fund a student's costs."""

    __tablename__ = "attestations"
    __table_args__ = (
        UniqueConstraint("document_id", "version"),
        Index("ix_attestations_tenant_student", "tenant_id", "student_id"),
    )

    id: Mapped[uuid.UUID] = _uuid()
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    issuer: Mapped[str | None] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(Date)  # the date obtained
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    semester: Mapped[str | None] = mapped_column(String(40))  # the semester it covers, from the settings
    categories: Mapped[list[str]] = mapped_column(JSONB)
    sha256: Mapped[str] = mapped_column(String(64))
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- claims and their checks --------------------------------------------------------------------

CHECKING, ACCEPTED, NEEDS_FIX, REJECTED = "checking", "accepted", "needs_fix", "rejected"


class Claim(Base):
    """One line of an expense document: student, plan, category, month, amount; checked by the rules."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("document_id", "version", "line"),
        Index("ix_claims_student_key_category_month", "student_key", "category", "month"),
        Index("ix_claims_sha256", "sha256"),
        Index("ix_claims_tenant_month", "tenant_id", "month"),
        Index("ix_claims_plan", "plan_id"),
    )

    id: Mapped[uuid.UUID] = _uuid()
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer, default=1)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    student_key: Mapped[str | None] = mapped_column(String(64))  # from the plan; none while the plan is unknown
    kind: Mapped[str] = mapped_column(String(30))
    category: Mapped[str] = mapped_column(String(40))
    month: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    sha256: Mapped[str] = mapped_column(String(64))
    duplicate_in_tenant: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default=CHECKING, index=True)
    # a newer version of the same document replaces this claim; it no longer counts anywhere
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    settings_revision: Mapped[int | None] = mapped_column(Integer)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    history: Mapped[list[CheckRun]] = relationship(order_by="CheckRun.number", viewonly=True)
    overrides: Mapped[list[Override]] = relationship(order_by="Override.requested_at", viewonly=True)


class CheckRun(Base):
    """One run of the rules on a claim: why it ran, the verdict, and what changed against the run before."""

    __tablename__ = "check_runs"
    __table_args__ = (UniqueConstraint("claim_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(30))  # document | settings | attestation | plan | override
    settings_revision: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(20))
    previous_verdict: Mapped[str | None] = mapped_column(String(20))
    # per rule whose outcome moved: {rule_id, from, to}; and the settings values that moved, if any
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    reason_lv: Mapped[str] = mapped_column(Text, default="")
    reason_en: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckResult(Base):
    """One rule's result on one run: id and version, outcome, explanation in Latvian and English, evidence."""

    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_claim_run", "claim_id", "run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"))
    run: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[str] = mapped_column(String(80))
    rule_version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    blocks_as: Mapped[str | None] = mapped_column(String(20))  # needs_fix | rejected, for a block
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation_lv: Mapped[str] = mapped_column(Text)
    explanation_en: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Override(Base):
    """A block set aside by a finance role with a reason, in force only once a second person confirms it."""

    __tablename__ = "overrides"
    __table_args__ = (Index("uq_overrides_one_pending", "claim_id", unique=True, postgresql_where="state = 'pending'"),)

    id: Mapped[uuid.UUID] = _uuid()
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    rules: Mapped[list[str]] = mapped_column(JSONB)  # the blocking rule ids set aside
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | confirmed
    requested_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_note: Mapped[str | None] = mapped_column(Text)


# ---- budgets and money owed ---------------------------------------------------------------------


class Reservation(Base):
    """An approved plan's planned financing held against its tenant's semester budget."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_tenant_semester", "tenant_id", "semester"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    semester: Mapped[str] = mapped_column(String(40))
    reserved: Mapped[Decimal] = mapped_column(Money)  # what the plan holds now
    released: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))  # given back to the budget
    state: Mapped[str] = mapped_column(String(20))  # held | released
    reason: Mapped[str | None] = mapped_column(String(40))  # approved | suspended | inactive | semester_ended
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BudgetEvent(Base):
    """Every change of a reservation: reserve, adjust, release, with the amount and why."""

    __tablename__ = "budget_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    semester: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consultation(Base):
    """Hours delivered on a consultation measure, owed at the rate in force on the day they were held."""

    __tablename__ = "consultations"
    __table_args__ = (Index("ix_consultations_tenant_held_on", "tenant_id", "held_on"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    measure_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    provider_type: Mapped[str] = mapped_column(String(40))
    held_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Hours)
    mode: Mapped[str] = mapped_column(String(20))
    rate: Mapped[Decimal | None] = mapped_column(Money)  # none: the settings have no rate for the provider type
    amount: Mapped[Decimal] = mapped_column(Money)
    settings_revision: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- statements ---------------------------------------------------------------------------------


class Statement(Base):
    """A tenant's reimbursement statement of a month; a rebuild on changed data is a new number."""

    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("tenant_id", "month", "number"),)

    id: Mapped[uuid.UUID] = _uuid()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    month: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | on_demand
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    total: Mapped[Decimal] = mapped_column(Money)
    totals: Mapped[dict[str, Any]] = mapped_column(JSONB)  # per category and per student
    csv_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    files: Mapped[list[StatementFile]] = relationship(order_by="StatementFile.format", cascade="all, delete-orphan")


class StatementFile(Base):
    __tablename__ = "statement_files"
    __table_args__ = (UniqueConstraint("statement_id", "format"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(10))
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    object_key: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))


# ---- audit ----------------------------------------------------------------------------------------


class AuditEvent(AuditColumns, Base):
    """Who changed what, when (people and the checks alike); the kernel's shape, in the change's transaction."""

    __tablename__ = "audit_events"
    __table__ = audit_table(Base.metadata)
