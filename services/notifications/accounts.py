"""Account mails from identity (an invitation, a password reset): to the address identity names, in the
person's language, whatever their preferences say (a person must get their reset link), with no inbox
item (they cannot log in to read it) and no webhook. The link itself is built when the mail is sent,
from the link's id (services/common/account_links.py): neither the message nor this database holds it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.messaging import Outbox

from .dispatch import add_delivery
from .models import PENDING, Notification

KIND_OF = {"invitation": "account_invitation", "password_reset": "password_reset"}


def on_account_link(session: Session, outbox: Outbox, payload: dict[str, Any]) -> uuid.UUID | None:
    """Record the mail once per link and queue its delivery; None when this link was seen before."""
    link_id = str(payload["link_id"])
    data = {
        "link_id": link_id,
        "purpose": payload["purpose"],
        "language": payload["language"],
        "full_name": payload["full_name"],
        "expires_at": payload["expires_at"].isoformat()
        if hasattr(payload["expires_at"], "isoformat")
        else str(payload["expires_at"]),
    }
    nid = session.execute(
        pg_insert(Notification)
        .values(
            id=uuid.uuid4(),
            key=f"account_link:{link_id}",
            kind=KIND_OF[payload["purpose"]],
            ref_type=None,
            ref_id=None,
            data=data,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Notification.id)
    ).scalar_one_or_none()
    if nid is None:
        return None
    user_id = uuid.UUID(str(payload["user_id"]))
    did = add_delivery(session, nid, "email", str(user_id), payload["email"], PENDING, user_id=user_id)
    if did is not None:
        outbox.publish(session, "notifications.deliver_email", {"delivery_id": str(did)})
    return nid
