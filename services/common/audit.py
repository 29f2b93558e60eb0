"""One audit shape for every service: who (user, tenant), what (action), target (type, id), when, the
request or message it came from, and a small details dict with no personal codes; written in the
transaction of the change it records.

Each service adds the table to its metadata (`audit_table`, like `messaging_tables`) and its sessions
carry it (`Database(info=...)`), so `record(session, ...)` needs nothing else. A view that changes state
or hands out a file declares its actions with `@audited(...)`: the declaration goes into the OpenAPI
document (`x-audit`), where a test checks every state-changing operation has one, and in tests a view
that answers without recording a declared action fails.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from flask import current_app, g, has_request_context
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, insert
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, Session

from .auth import Principal
from .db import UTCDateTime, utcnow
from .logging import mask_text

TABLE = "audit_events"
SESSION_KEY = "audit_table"
MAX_DETAIL = 500  # characters of one text value; details are a summary, not a copy of the change

F = TypeVar("F", bound=Callable[..., Any])


def audit_table(metadata: MetaData) -> Table:
    """Add the audit table to a service's metadata (the shape identity's and plans' tables always had)."""
    return Table(
        TABLE,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", UTCDateTime, nullable=False, default=utcnow, index=True),
        Column("actor_id", UUID(as_uuid=True)),
        Column("action", String(60), nullable=False),
        Column("target_type", String(40), nullable=False),
        Column("target_id", String(64), nullable=False),
        Column("tenant_id", UUID(as_uuid=True), index=True),
        Column("request_id", String(64)),
        Column("details", JSONB, nullable=False, default=dict),
        Index("ix_audit_events_target", "target_type", "target_id"),
    )


class AuditColumns:
    """The audit table's columns, typed, for a service's mapped class:
    `class AuditEvent(AuditColumns, Base): __tablename__ = TABLE; __table__ = audit_table(Base.metadata)`."""

    id: Mapped[int]
    at: Mapped[datetime]
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str]
    target_type: Mapped[str]
    target_id: Mapped[str]
    tenant_id: Mapped[uuid.UUID | None]
    request_id: Mapped[str | None]
    details: Mapped[dict[str, Any]]


class AuditMissing(RuntimeError):
    """A view answered without recording the audit action it declares (raised in tests only)."""


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    target_type: str,
    target_id: Any,
    *,
    tenant_id: Any,
    actor_id: Any = None,
    **details: Any,
) -> None:
    """Write one audit record in the session's transaction.

    The actor is the principal (or `actor_id` for a message acting for someone, or nobody for the
    system); the tenant is the target's (None for platform-wide things); the request id is the HTTP
    request's, or the message's id in a handler. Details are made plain, cut short, personal codes masked.
    """
    table = session.info.get(SESSION_KEY)
    if table is None:
        raise RuntimeError("this session's database has no audit table (Database(info={'audit_table': ...}))")
    actor = principal.user_id if principal is not None else actor_id
    request_id = current_request_id()
    session.execute(
        insert(table).values(
            at=utcnow(),
            actor_id=_uuid(actor),
            action=action,
            target_type=target_type,
            target_id=str(target_id)[:64],
            tenant_id=_uuid(tenant_id),
            request_id=request_id,
            details={k: plain(v) for k, v in details.items() if v is not None},
        )
    )
    if has_request_context():
        g.setdefault("audited", []).append(action)


UNCHANGED = "-unchanged-"


def unchanged() -> None:
    """Tell an `@audited` view that this answer changed nothing, so there is nothing to record."""
    if has_request_context():
        g.setdefault("audited", []).append(UNCHANGED)


def current_request_id() -> str | None:
    """The HTTP request's id, or in a message handler the message's (else the Celery task's)."""
    context = structlog.contextvars.get_contextvars()
    found = context.get("request_id") or context.get("message_id") or context.get("task_id")
    return str(found)[:64] if found else None


def plain(value: Any) -> Any:
    """A JSON value of `value`, with anything shaped like a personal code masked."""
    if isinstance(value, str):
        return mask_text(value[:MAX_DETAIL])
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        return [plain(v) for v in items[:50]]
    return plain(str(value))


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def audited(*actions: str) -> Callable[[F], F]:
    """Declare the audit actions a view records (any one of them per answer); see the module docstring."""
    if not actions:
        raise ValueError("name at least one action, or use not_audited(reason)")
    return _declare({"x-audit": list(actions)}, frozenset(actions))


def not_audited(reason: str) -> Callable[[F], F]:
    """Declare why a state-changing view writes no audit record (the reason is in the OpenAPI document)."""
    return _declare({"x-audit-exempt": reason}, frozenset())


def _declare(doc: dict[str, Any], actions: frozenset[str]) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.audited = []
            result = view(*args, **kwargs)
            done = set(g.get("audited", []))
            if actions and current_app.testing and _has_table() and not done & (actions | {UNCHANGED}):
                raise AuditMissing(f"{view.__qualname__} answered without recording any of {sorted(actions)}")
            return result

        # flask-smorest merges `manual_doc` into the operation; copy, never change the wrapped view's
        apidoc = copy.deepcopy(getattr(view, "_apidoc", {}))
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), **doc}
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        wrapper._audit = doc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def _has_table() -> bool:
    runtime = current_app.extensions.get("runtime")
    return runtime is not None and TABLE in runtime.metadata.tables


def reader_scope(principal: Principal) -> Principal:
    """The grants that read audit records: a platform admin's, and auditors' over regions or tenants."""
    from .auth import AUDITOR

    if principal.is_platform_admin:
        return principal
    grants = tuple(gr for gr in principal.grants_of(AUDITOR) if not gr.school_id)
    return dataclasses.replace(principal, grants=grants)
