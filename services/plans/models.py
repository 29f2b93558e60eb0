"""Plans' tables: students, plans with risks and measures, transitions, agreements, consultations,
director's orders, evaluations, the per-student timeline, and read models fed by other services."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.audit import AuditColumns, audit_table
from services.common.db import NAMING, UTCDateTime, utcnow
from services.common.messaging import messaging_tables


class Base(DeclarativeBase):
    """Plans' own metadata: no other service's tables in its database or its migrations."""

    metadata = MetaData(naming_convention=NAMING)


MESSAGING = messaging_tables(Base.metadata)

Money = Numeric(12, 2)
Hours = Numeric(6, 2)


def _uuid() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


# ---- read models (replaced by messages from identity and finance) ------------------------------


class TenantRM(Base):
    __tablename__ = "tenants_rm"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)


class SchoolRM(Base):
    __tablename__ = "schools_rm"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean)


class UserRM(Base):
    """Who works where: names for forms, and roles for rules such as "the preparer is a teacher"."""

    __tablename__ = "users_rm"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class ProgrammeSettingsRM(Base):
    """Finance's programme settings as last published: rates, caps, semesters (one row per revision)."""

    __tablename__ = "programme_settings_rm"

    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


# ---- students -----------------------------------------------------------------------------------


class Student(Base):
    """A student; the personal code is stored encrypted, with a keyed hash for exact-match search."""

    __tablename__ = "students"
    __table_args__ = (UniqueConstraint("tenant_id", "code_hash", name="uq_students_tenant_code"),)

    id: Mapped[uuid.UUID] = _uuid()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    code_kind: Mapped[str] = mapped_column(String(20))  # personal_code | student_id
    code_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 under the platform secret
    code_encrypted: Mapped[str] = mapped_column(Text)
    code_hint: Mapped[str] = mapped_column(String(20))  # e.g. 010101-*****
    birth_date: Mapped[date] = mapped_column(Date)
    grade: Mapped[int | None] = mapped_column(Integer)  # general education class 1-12
    course: Mapped[int | None] = mapped_column(Integer)  # vocational course 1-4
    # general | vocational | further_training (professional development, further training: not eligible)
    programme: Mapped[str] = mapped_column(String(20), default="general", server_default="general")
    declared_municipality: Mapped[str] = mapped_column(String(100))
    actual_municipality: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"eager_defaults": True}


class StudentImport(Base):
    """An uploaded list of students: previewed, then committed once."""

    __tablename__ = "student_imports"

    id: Mapped[uuid.UUID] = _uuid()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # previewed | committed
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_valid: Mapped[int] = mapped_column(Integer)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    existing_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # valid rows, with personal codes already encrypted and hashed: nothing sensitive in clear
    staged_rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---- plans --------------------------------------------------------------------------------------


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        # one plan per student per semester; a deleted (inactive) plan does not count
        Index(
            "uq_plans_student_semester", "student_id", "semester", unique=True, postgresql_where="status <> 'inactive'"
        ),
        Index("ix_plans_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[uuid.UUID] = _uuid()
    code: Mapped[str] = mapped_column(String(40), unique=True)  # the plan ID code orders refer to
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"), index=True)
    semester: Mapped[str] = mapped_column(String(40))  # a semester code from programme settings
    semester_start: Mapped[date] = mapped_column(Date)
    semester_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    pending_level: Mapped[str | None] = mapped_column(String(20))  # director | municipality | ikvd
    preparer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    prepared_on: Mapped[date] = mapped_column(Date)
    preparation_hours: Mapped[Decimal] = mapped_column(Hours, default=Decimal("0"))
    planned_financing: Mapped[Decimal | None] = mapped_column(Money)
    settings_revision: Mapped[int | None] = mapped_column(Integer)
    # the signed application: parent/guardian for a minor, the student for an adult; on file only once
    # documents has stored it and plans has found it fits (`application_version` is then set)
    application_signer: Mapped[str | None] = mapped_column(String(20))
    application_signed_on: Mapped[date | None] = mapped_column(Date)
    application_document_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    application_version: Mapped[int | None] = mapped_column(Integer)
    paid_so_far: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    paid_revision: Mapped[int] = mapped_column(Integer, default=0)
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    student: Mapped[Student] = relationship()
    risks: Mapped[list[Risk]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Risk.created_at"
    )
    measures: Mapped[list[Measure]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Measure.created_at"
    )
    transitions: Mapped[list[PlanTransition]] = relationship(order_by="PlanTransition.at", cascade="all, delete-orphan")


class Risk(Base):
    __tablename__ = "risks"

    id: Mapped[uuid.UUID] = _uuid()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(30))  # learning | social_health | economic | family
    justification: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[Plan] = relationship(back_populates="risks")


class MeasureRisk(Base):
    __tablename__ = "measure_risks"

    measure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("measures.id", ondelete="CASCADE"), primary_key=True)
    risk_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("risks.id", ondelete="CASCADE"), primary_key=True)


class Measure(Base):
    """A support measure: a consultation (provider type, hours) or a compensation (category, amount)."""

    __tablename__ = "measures"

    id: Mapped[uuid.UUID] = _uuid()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # consultation | compensation
    provider_type: Mapped[str | None] = mapped_column(String(40))
    planned_hours: Mapped[Decimal | None] = mapped_column(Hours)
    category: Mapped[str | None] = mapped_column(String(40))
    planned_amount: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[Plan] = relationship(back_populates="measures")
    risks: Mapped[list[Risk]] = relationship(secondary="measure_risks")


class PlanTransition(Base):
    """Every change of a plan's status: who, when, from, to, at which approval level, and why."""

    __tablename__ = "plan_transitions"

    id: Mapped[uuid.UUID] = _uuid()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    level: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)


class Evaluation(Base):
    """The semester evaluation of a plan."""

    __tablename__ = "evaluations"

    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(30))  # goals_met | partly_met | not_met
    text: Mapped[str] = mapped_column(Text)
    written_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---- delivery -----------------------------------------------------------------------------------


class Agreement(Base):
    """An agreement between a support provider and the student, on one measure of the plan."""

    __tablename__ = "agreements"
    __table_args__ = (UniqueConstraint("measure_id", "provider_id", name="uq_agreements_measure_provider"),)

    id: Mapped[uuid.UUID] = _uuid()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    measure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("measures.id"))
    provider_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    signed_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Consultation(Base):
    """A line of the consultative support (KA) form."""

    __tablename__ = "consultations"

    id: Mapped[uuid.UUID] = _uuid()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    measure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("measures.id"), index=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    held_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Hours)
    subject: Mapped[str] = mapped_column(String(200))  # subject or support type
    mode: Mapped[str] = mapped_column(String(20))  # in_person | remote
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("director_orders.id"))
    student_confirmed_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DirectorOrder(Base):
    """A director's order allowing remote consultations or practice-placement costs."""

    __tablename__ = "director_orders"
    __table_args__ = (UniqueConstraint("school_id", "number", name="uq_director_orders_school_number"),)

    id: Mapped[uuid.UUID] = _uuid()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(30))  # remote_consultations | practice_placement
    number: Mapped[str] = mapped_column(String(40))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    platform: Mapped[str | None] = mapped_column(String(200))  # the platform or way of the remote work
    confirmation_method: Mapped[str | None] = mapped_column(String(200))
    issued_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    students: Mapped[list[OrderStudent]] = relationship(cascade="all, delete-orphan")
    providers: Mapped[list[OrderProvider]] = relationship(cascade="all, delete-orphan")


class OrderStudent(Base):
    __tablename__ = "order_students"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("director_orders.id", ondelete="CASCADE"), primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id"))


class OrderProvider(Base):
    __tablename__ = "order_providers"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("director_orders.id", ondelete="CASCADE"), primary_key=True)
    provider_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))


# ---- timeline and audit -------------------------------------------------------------------------


class TimelineEvent(Base):
    """What happened to a student, from plans itself and as other services report it."""

    __tablename__ = "timeline_events"
    __table_args__ = (
        Index("ix_timeline_student_at", "student_id", "at"),
        UniqueConstraint("source", "source_key", name="uq_timeline_source_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    plan_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(20))  # plans | documents | finance
    source_key: Mapped[str] = mapped_column(String(120))  # makes a reported event idempotent
    kind: Mapped[str] = mapped_column(String(60))
    summary_lv: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class AuditEvent(AuditColumns, Base):
    """Who changed what, when; written in the same transaction as the change (the kernel's shape)."""

    __tablename__ = "audit_events"
    __table__ = audit_table(Base.metadata)
