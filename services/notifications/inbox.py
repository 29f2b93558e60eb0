"""A person's in-app inbox: their items only, newest first, unread count, marking read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.errors import NotFound

from .models import InboxItem


def items_query(user_id: uuid.UUID, *, unread: bool = False, kind: str | None = None) -> Select[Any]:
    query = select(InboxItem).where(InboxItem.user_id == user_id)
    if unread:
        query = query.where(InboxItem.read_at.is_(None))
    if kind:
        query = query.where(InboxItem.kind == kind)
    return query.order_by(InboxItem.created_at.desc(), InboxItem.id)


def unread_count(session: Session, user_id: uuid.UUID) -> int:
    return session.execute(
        select(func.count()).where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
    ).scalar_one()


def mark_read(session: Session, user_id: uuid.UUID, item_id: uuid.UUID) -> InboxItem:
    """Mark one of the person's items read (again is fine); someone else's item is not found."""
    item = session.get(InboxItem, item_id)
    if item is None or item.user_id != user_id:
        raise NotFound("inbox item")
    if item.read_at is None:
        item.read_at = utcnow()
    return item


def mark_all_read(session: Session, user_id: uuid.UUID) -> int:
    result = session.execute(
        update(InboxItem).where(InboxItem.user_id == user_id, InboxItem.read_at.is_(None)).values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
