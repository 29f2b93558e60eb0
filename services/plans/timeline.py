"""Each student's timeline: what plans itself records and what other services report, newest first.

Delivery (agreements, consultations, orders, evaluations) writes its events and audit records through
`record` and `audit` here, each with a source key that names the thing it is about, so an event is
never written twice for the same fact.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.common.audit import record as audit_record
from services.common.auth import Principal
from services.common.db import utcnow

from .access import ensure_readable
from .models import Plan, Student, TimelineEvent


def record(session: Session, plan: Plan, kind: str, key: str, lv: str, en: str, **details: Any) -> None:
    """Put one event about a plan's student on the timeline; `key` is unique within the source `plans`."""
    session.add(
        TimelineEvent(
            tenant_id=plan.tenant_id,
            student_id=plan.student_id,
            plan_id=plan.id,
            at=utcnow(),
            source="plans",
            source_key=f"{kind}:{key}"[:120],
            kind=kind,
            summary_lv=lv,
            summary_en=en,
            details={k: _plain(v) for k, v in details.items() if v is not None},
        )
    )


def audit(
    session: Session,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: uuid.UUID,
    tenant_id: uuid.UUID,
    **details: Any,
) -> None:
    audit_record(session, principal, action, target_type, target_id, tenant_id=tenant_id, **details)


def _plain(value: Any) -> Any:
    """JSON-friendly details: ids, dates and amounts as strings."""
    if isinstance(value, str | int | bool | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def student_timeline_query(
    session: Session, principal: Principal, student_id: uuid.UUID, f: dict[str, Any]
) -> Select[Any]:
    """The student's events newest first; 404 when the student is missing or out of reach."""
    ensure_readable(session, principal, session.get(Student, student_id), "student")
    query = select(TimelineEvent).where(TimelineEvent.student_id == student_id)
    if f.get("kind"):
        query = query.where(TimelineEvent.kind == f["kind"])
    if f.get("plan_id"):
        query = query.where(TimelineEvent.plan_id == f["plan_id"])
    if f.get("source"):
        query = query.where(TimelineEvent.source == f["source"])
    # the id breaks ties between events written in the same instant, in the order they were written
    return query.order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
