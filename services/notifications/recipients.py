"""Turn audiences into people: active users of the read model, each once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .audience import Audience
from .models import Recipient


def resolve(session: Session, audiences: Iterable[Audience]) -> list[Recipient]:
    """The active recipients any audience names, in a stable order, without repeats."""
    clauses = []
    user_ids = []
    for a in audiences:
        if a.user_id:
            user_ids.append(uuid.UUID(a.user_id))
        elif a.role:
            clauses.append(Recipient.roles.contains([a.grant_filter()]))
    if user_ids:
        clauses.append(Recipient.id.in_(user_ids))
    if not clauses:
        return []
    query = select(Recipient).where(Recipient.active.is_(True), or_(*clauses)).order_by(Recipient.email, Recipient.id)
    return list(session.execute(query).scalars())
