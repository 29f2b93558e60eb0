"""Read models: copies of another service's facts, replaced only by a newer revision."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

M = TypeVar("M")


def newer_row(session: Session, model: type[M], key: Any, revision: int) -> M | None:
    """The row to overwrite with `revision` (made when missing), or None when we already hold as new.

    Two messages about the same new key may arrive at once: a transaction-scoped advisory lock on the
    key makes the second wait for the first, instead of failing on the primary key.
    """
    table = model.__tablename__  # type: ignore[attr-defined]
    session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{table}:{key}"))))
    current = session.get(model, key, with_for_update=True)
    if current is not None and current.revision >= revision:  # type: ignore[attr-defined]
        return None
    if current is None:
        current = model(id=key)  # type: ignore[call-arg]
        session.add(current)
    current.revision = revision  # type: ignore[attr-defined]
    return current
