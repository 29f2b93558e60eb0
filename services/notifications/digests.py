"""Daily digests: once a day, after the digest hour, one e-mail per person with everything they chose
to batch since their last digest."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.messaging import Outbox

from . import catalogue, render
from .catalogue import DIGEST
from .dispatch import add_delivery
from .models import DIGEST_PENDING, DIGESTED, PENDING, Delivery, Notification, Recipient

RIGA = ZoneInfo("Europe/Riga")


def send_digests(session: Session, outbox: Outbox, link_base_url: str, digest_hour: int, now: datetime) -> int:
    """Build the digests due at `now`; returns how many. A person gets at most one digest a day."""
    local = now.astimezone(RIGA)
    if local.hour < digest_hour:
        return 0
    day = local.date().isoformat()
    pending = session.execute(
        select(Delivery)
        .where(Delivery.status == DIGEST_PENDING, Delivery.created_at <= now)
        .order_by(Delivery.user_id, Delivery.created_at)
        .with_for_update(skip_locked=True)
    ).scalars()
    by_user: dict[uuid.UUID, list[Delivery]] = defaultdict(list)
    for d in pending:
        if d.user_id is not None:
            by_user[d.user_id].append(d)
    made = 0
    for user_id, items in by_user.items():
        person = session.get(Recipient, user_id)
        if person is None or not person.active:
            continue
        entries = []
        for d in items:
            n = session.get(Notification, d.notification_id)
            assert n is not None
            t = render.texts(n.kind, n.data)
            entries.append(
                {
                    "kind": n.kind,
                    "title_lv": t.title_lv,
                    "title_en": t.title_en,
                    "body_lv": t.body_lv,
                    "body_en": t.body_en,
                    "link": catalogue.link(link_base_url, n.ref_type, n.ref_id, n.data),
                }
            )
        digest_id = session.execute(
            pg_insert(Notification)
            .values(
                id=uuid.uuid4(),
                key=f"digest:{user_id}:{day}",
                kind=DIGEST,
                data={"date": day, "entries": entries},
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(Notification.id)
        ).scalar_one_or_none()
        if digest_id is None:
            continue  # today's digest went out already: these wait for tomorrow's
        did = add_delivery(session, digest_id, "email", str(user_id), person.email, PENDING, user_id=user_id)
        session.execute(
            update(Delivery).where(Delivery.id.in_([d.id for d in items])).values(status=DIGESTED, digest_id=digest_id)
        )
        if did is not None:
            outbox.publish(session, "notifications.deliver_email", {"delivery_id": str(did)})
            made += 1
    return made
