"""What each message from another service means here: update a read model, then tell the right people."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.common.messaging import MessagingTables, Outbox

from . import audience, readmodels
from .dispatch import Intent, Outcome, notify
from .models import FAILED, Delivery, SchoolRM, TenantRM

DELIVERY_TASKS = ("notifications.deliver_email", "notifications.deliver_webhook")

# the natural key of each fact: the same fact sent again (even under a new message id) is told once
_KEYS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "document_verdict": lambda p: f"{p['document_id']}:{p['version']}:{p['status']}",
    "plan_awaiting_approval": lambda p: f"{p['plan_id']}:{p['level']}:{p['since']}",
    # a decision is one fact at one time; older messages carry no time and fall back to their message id
    "plan_returned": lambda p: f"{p['plan_id']}:{p['decided_at']}" if p.get("decided_at") else None,
    "plan_approved": lambda p: f"{p['plan_id']}:{p['decided_at']}" if p.get("decided_at") else None,
    "order_registered": lambda p: f"{p['order_id']}",
    "statement_ready": lambda p: f"{p['statement_id']}",
    "message_dead_lettered": lambda p: f"{p['service']}:{p['dead_letter_id']}",
}
_REFS = {
    "document_verdict": "document_id",
    "plan_awaiting_approval": "plan_id",
    "plan_returned": "plan_id",
    "plan_approved": "plan_id",
    "order_registered": "order_id",
    "statement_ready": "statement_id",
    "message_dead_lettered": "dead_letter_id",
}


def names(session: Session, tenant_id: Any, school_id: Any) -> dict[str, str | None]:
    """The tenant's and school's names for the texts (None while the read model lacks them)."""
    tenant = session.get(TenantRM, uuid.UUID(str(tenant_id))) if tenant_id else None
    school = session.get(SchoolRM, uuid.UUID(str(school_id))) if school_id else None
    return {"tenant_name": tenant.name if tenant else None, "school_name": school.name if school else None}


def on_message(
    session: Session,
    outbox: Outbox,
    link_base_url: str,
    kind: str,
    payload: dict[str, Any],
    message_id: str,
    tables: MessagingTables | None = None,
) -> Outcome | None:
    """Handle one message addressed to `notifications.<kind>`; None when there is nothing to tell."""
    email = True
    if kind == "plan_awaiting_approval" and not readmodels.plan_waiting(session, payload):
        return None  # a late message: the plan has moved on, its approvers were told by a newer one
    decided = {"plan_returned": "returned", "plan_approved": "approved"}.get(kind)
    if decided and not readmodels.plan_decided(session, payload, decided):
        return None  # a late message: the preparer has acted on the plan since, and was told then
    own_delivery = kind == "message_dead_lettered" and payload["task_name"] in DELIVERY_TASKS
    if own_delivery and payload["service"] == "notifications":
        if tables is not None:
            mark_failed_delivery(session, tables, payload["dead_letter_id"])
        email = False  # mailing about a failed delivery could fail the same way, and loop
    data = readmodels.json_ready(payload)
    data.update(names(session, payload.get("tenant_id"), payload.get("school_id")))
    key_of = _KEYS.get(kind)
    key = f"{kind}:{(key_of(data) if key_of else None) or message_id}"
    return notify(
        session,
        outbox,
        link_base_url,
        Intent(
            kind=kind,
            key=key,
            data=data,
            audience=audience.for_message(kind, payload),
            tenant_id=data.get("tenant_id"),
            school_id=data.get("school_id"),
            ref_id=data.get(_REFS[kind]),
            email=email,
        ),
    )


def mark_failed_delivery(session: Session, tables: MessagingTables, dead_letter_id: Any) -> None:
    """A delivery task of ours failed past its retries: its delivery is failed, with the dead letter's id."""
    row = session.execute(
        select(tables.dead_letters.c.payload).where(tables.dead_letters.c.id == uuid.UUID(str(dead_letter_id)))
    ).first()
    delivery_id = (row.payload or {}).get("delivery_id") if row else None
    if not delivery_id:
        return
    session.execute(
        update(Delivery)
        .where(Delivery.id == uuid.UUID(delivery_id), Delivery.status != "sent")
        .values(status=FAILED, dead_letter_id=uuid.UUID(str(dead_letter_id)))
    )
