"""Turn one fact into what people receive: a notification once per key, an inbox item and an e-mail
delivery per person as they chose, and a webhook delivery per subscribed endpoint of the tenant.

Everything is written in the caller's transaction; the delivery tasks go out through the outbox after
it commits, one task per delivery, so one recipient's failure never redoes the others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.messaging import Outbox

from . import catalogue, preferences, recipients, render
from .audience import Audience
from .models import DIGEST_PENDING, PENDING, Delivery, InboxItem, Notification, Webhook


@dataclass(frozen=True)
class Intent:
    """Something to tell: its kind, a key that makes it happen once, the facts, and who is told."""

    kind: str
    key: str
    data: dict[str, Any]
    audience: list[Audience]
    tenant_id: str | None = None
    school_id: str | None = None
    ref_id: str | None = None
    email: bool = True  # False: the inbox only (a failed delivery of ours must not mail about itself)


@dataclass
class Outcome:
    notification_id: uuid.UUID | None
    inbox: int = 0
    emails: int = 0
    webhooks: int = 0


def _uid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def notify(session: Session, outbox: Outbox, link_base_url: str, intent: Intent) -> Outcome:
    """Record and fan out one notification; nothing happens when its key was seen before."""
    kind = catalogue.KINDS[intent.kind]
    now = utcnow()
    nid = session.execute(
        pg_insert(Notification)
        .values(
            id=uuid.uuid4(),
            key=intent.key,
            kind=intent.kind,
            tenant_id=_uid(intent.tenant_id),
            school_id=_uid(intent.school_id),
            ref_type=kind.ref_type,
            ref_id=intent.ref_id,
            data=intent.data,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Notification.id)
    ).scalar_one_or_none()
    if nid is None:
        return Outcome(None)
    outcome = Outcome(nid)
    link = catalogue.link(link_base_url, kind.ref_type, intent.ref_id, intent.data)
    texts = render.texts(intent.kind, intent.data)
    people = recipients.resolve(session, intent.audience)
    choices = preferences.for_users(session, [p.id for p in people], intent.kind)
    for person in people:
        choice = choices[person.id]
        if choice.inbox:
            session.add(
                InboxItem(
                    id=uuid.uuid4(),
                    user_id=person.id,
                    notification_id=nid,
                    kind=intent.kind,
                    title_lv=texts.title_lv[:300],
                    title_en=texts.title_en[:300],
                    body_lv=texts.body_lv,
                    body_en=texts.body_en,
                    ref_type=kind.ref_type,
                    ref_id=intent.ref_id,
                    link=link,
                    created_at=now,
                )
            )
            outcome.inbox += 1
        if choice.email and intent.email:
            status = DIGEST_PENDING if choice.digest else PENDING
            did = add_delivery(session, nid, "email", str(person.id), person.email, status, user_id=person.id)
            if did is not None and status == PENDING:
                outbox.publish(session, "notifications.deliver_email", {"delivery_id": str(did)})
            outcome.emails += did is not None
    if kind.webhook and intent.tenant_id:
        for hook in _subscribed(session, uuid.UUID(intent.tenant_id), intent.kind):
            did = add_delivery(session, nid, "webhook", str(hook.id), hook.url, PENDING, webhook_id=hook.id)
            if did is not None:
                outbox.publish(session, "notifications.deliver_webhook", {"delivery_id": str(did)})
                outcome.webhooks += 1
    session.flush()
    return outcome


def add_delivery(
    session: Session,
    notification_id: uuid.UUID,
    channel: str,
    recipient: str,
    address: str,
    status: str,
    **who: Any,
) -> uuid.UUID | None:
    """A delivery row under its key (notification, recipient, channel); None when it already exists."""
    return session.execute(
        pg_insert(Delivery)
        .values(
            id=uuid.uuid4(),
            notification_id=notification_id,
            channel=channel,
            recipient=recipient,
            address=address,
            status=status,
            attempts=0,
            created_at=utcnow(),
            **who,
        )
        .on_conflict_do_nothing(constraint="uq_deliveries_key")
        .returning(Delivery.id)
    ).scalar_one_or_none()


def _subscribed(session: Session, tenant_id: uuid.UUID, kind: str) -> list[Webhook]:
    hooks = session.execute(
        select(Webhook).where(Webhook.tenant_id == tenant_id, Webhook.active.is_(True)).order_by(Webhook.created_at)
    ).scalars()
    return [h for h in hooks if not h.kinds or kind in h.kinds]
