"""Notifications' tables: read models fed by other services, notifications with their inbox items and
deliveries, preferences and webhooks."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.audit import AuditColumns, audit_table
from services.common.db import NAMING, UTCDateTime, utcnow
from services.common.messaging import messaging_tables


class Base(DeclarativeBase):
    """Notifications' own metadata: no other service's tables in its database or its migrations."""

    metadata = MetaData(naming_convention=NAMING)


MESSAGING = messaging_tables(Base.metadata)


def _uuid() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


# ---- read models (replaced by messages from identity, plans and finance) ------------------------


class TenantRM(Base):
    __tablename__ = "tenants_rm"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(20), index=True)
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)


class SchoolRM(Base):
    __tablename__ = "schools_rm"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # general | vocational
    active: Mapped[bool] = mapped_column(Boolean)


class Recipient(Base):
    """A user as notifications needs them: address, language, and every role grant (for audiences)."""

    __tablename__ = "recipients"
    __table_args__ = (Index("ix_recipients_roles", "roles", postgresql_using="gin"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)
    # [{"role", "tenant_id", "school_id", "region"}], ids as strings: queried by JSONB containment
    roles: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class CalendarRM(Base):
    """Finance's school calendar and monthly deadline day, one row per revision (the newest is in force)."""

    __tablename__ = "calendar_rm"

    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_day: Mapped[int] = mapped_column(Integer)
    semesters: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PackageReceived(Base):
    """A school's (or a whole tenant's, school_id null) expense package of a month has reached finance."""

    __tablename__ = "packages_received"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "school_id", "month", name="uq_packages_received", postgresql_nulls_not_distinct=True
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    month: Mapped[date] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WaitingPlan(Base):
    """A plan's place in the approval chain, from plans' messages: waiting at a level, returned or approved."""

    __tablename__ = "waiting_plans"
    __table_args__ = (Index("ix_waiting_plans_status_since", "status", "since"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    code: Mapped[str] = mapped_column(String(60))
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(20))  # waiting | returned | approved
    level: Mapped[str | None] = mapped_column(String(20))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    preparer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # returned or approved: when plans decided (when we heard, for messages that do not say)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_on: Mapped[date | None] = mapped_column(Date)
    semester: Mapped[str | None] = mapped_column(String(40))  # the plan's semester code, when plans said


class EvaluationWritten(Base):
    """A plan's semester evaluation is written (from plans): its reminders and overdue notices stop."""

    __tablename__ = "evaluations_written"

    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    semester: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the newest writing we heard of


# ---- what we send -------------------------------------------------------------------------------


class Notification(Base):
    """One fact worth telling (a verdict, a plan sent back, a reminder); `key` makes it happen once."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = _uuid()
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    school_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    ref_type: Mapped[str | None] = mapped_column(String(20))
    ref_id: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboxItem(Base):
    __tablename__ = "inbox_items"
    __table_args__ = (
        UniqueConstraint("notification_id", "user_id", name="uq_inbox_items_notification_user"),
        Index("ix_inbox_items_user_created", "user_id", "created_at"),
        Index("ix_inbox_items_unread", "user_id", postgresql_where="read_at IS NULL"),
    )

    id: Mapped[uuid.UUID] = _uuid()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title_lv: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    body_lv: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    ref_type: Mapped[str | None] = mapped_column(String(20))
    ref_id: Mapped[str | None] = mapped_column(String(120))
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


PENDING, DIGEST_PENDING, RETRYING, SENT, FAILED, DIGESTED = (
    "pending",
    "digest_pending",
    "retrying",
    "sent",
    "failed",
    "digested",
)
DELIVERY_STATUSES = (PENDING, DIGEST_PENDING, RETRYING, SENT, FAILED, DIGESTED)


class Delivery(Base):
    """One notification to one recipient (a user, or a tenant's webhook) over one channel.

    (notification, recipient, channel) is unique: the delivery key that keeps a redelivered message
    from sending anything twice.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "recipient", "channel", name="uq_deliveries_key"),
        Index("ix_deliveries_status", "status", "created_at"),
        Index("ix_deliveries_webhook", "webhook_id", "created_at"),
        Index("ix_deliveries_digest_pending", "user_id", postgresql_where="status = 'digest_pending'"),
    )

    id: Mapped[uuid.UUID] = _uuid()
    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(64))  # the user's or the webhook's id
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    webhook_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    address: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_status: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digest_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # the digest that carried it
    dead_letter_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Preference(Base):
    """A person's choice for one kind of notification: channels, and immediate or daily digest."""

    __tablename__ = "preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
    inbox: Mapped[bool] = mapped_column(Boolean)
    digest: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Webhook(Base):
    """A tenant's endpoint for integrators: signed POSTs of the kinds it subscribes to."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = _uuid()
    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # the HMAC key, Fernet-encrypted under NOTIFICATIONS_WEBHOOK_KEY (signing needs it back); the tenant
    # sees it in clear once, when it is made or rotated
    secret_encrypted: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[str]] = mapped_column(JSONB)  # empty: every kind webhooks carry
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuditEvent(AuditColumns, Base):
    """Who changed what, when (webhooks, preferences, replays); the kernel's shape, in the change's transaction."""

    __tablename__ = "audit_events"
    __table__ = audit_table(Base.metadata)
