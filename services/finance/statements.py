"""Reimbursement statements per tenant and month: accepted claims, delivered consultation hours and plan
preparation, with totals per category and per student; CSV, XLSX and PDF stored through documents.

Building again from unchanged data gives the same CSV and records nothing new; changed data makes the
next numbered statement of that month.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, timedelta

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.common import audit
from services.common.contracts.documents import COMPENSATION_CATEGORIES
from services.common.db import utcnow
from services.common.messaging import Outbox

from . import budgets, programme
from .models import ACCEPTED, Claim, Consultation, PlanRM, Statement, StatementFile, TenantRM
from .render import Line, StatementData, render_csv, render_pdf, render_xlsx
from .rules import month_end
from .staging import Staging

log = structlog.get_logger(__name__)

MEDIA = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def compute(session: Session, tenant_id: uuid.UUID, month: date) -> StatementData:
    """The statement's lines from the data as it stands."""
    month = month.replace(day=1)
    end = month_end(month)
    tenant = session.get(TenantRM, tenant_id)
    in_force = programme.InForce(session)  # the settings, read once for every line
    lines: list[Line] = []
    example = False
    claims = session.execute(
        select(Claim, PlanRM.code)
        .join(PlanRM, PlanRM.id == Claim.plan_id)
        .where(
            Claim.tenant_id == tenant_id,
            Claim.month == month,
            Claim.status == ACCEPTED,
            Claim.superseded.is_(False),
            Claim.category.in_(COMPENSATION_CATEGORIES),
        )
    ).all()
    for claim, code in claims:
        lines.append(
            Line(
                "claim",
                str(claim.school_id or ""),
                code,
                str(claim.student_id),
                claim.category,
                str(claim.document_id),
                None,
                None,
                claim.amount,
            )
        )
    hours = session.execute(
        select(
            PlanRM.school_id,
            PlanRM.code,
            PlanRM.student_id,
            Consultation.provider_type,
            Consultation.rate,
            func.sum(Consultation.hours),
            func.sum(Consultation.amount),
            func.max(Consultation.settings_revision),
        )
        .join(PlanRM, PlanRM.id == Consultation.plan_id)
        .where(Consultation.tenant_id == tenant_id, Consultation.held_on.between(month, end))
        .group_by(PlanRM.school_id, PlanRM.code, PlanRM.student_id, Consultation.provider_type, Consultation.rate)
    ).all()
    for school, code, student, provider, rate, h, amount, rev in hours:
        example = example or _example(session, rev)
        lines.append(
            Line(
                "consultation",
                str(school),
                code,
                str(student),
                "consultations",
                provider,
                h,
                rate,
                programme.money(amount),
            )
        )
    started = session.execute(
        select(PlanRM).where(PlanRM.tenant_id == tenant_id, PlanRM.started_on.between(month, end))
    ).scalars()
    for plan in started:
        if plan.preparation_hours <= 0:
            continue
        prog = in_force(plan.prepared_on)
        example = example or prog.example_values
        lines.append(
            Line(
                "preparation",
                str(plan.school_id),
                plan.code,
                str(plan.student_id),
                "plan_preparation",
                "",
                plan.preparation_hours,
                prog.preparation_rate,
                budgets.preparation_owed(session, plan, in_force),
            )
        )
    if claims:
        example = example or in_force(month).example_values
    return StatementData(
        str(tenant_id),
        tenant.name if tenant else str(tenant_id),
        month,
        lines,
        example,
        registration_number=tenant.registration_number if tenant else None,
    )


def _example(session: Session, revision: int | None) -> bool:
    prog = programme.revision(session, revision) if revision else None
    return bool(prog and prog.example_values)


def build(
    session: Session,
    outbox: Outbox,
    staging: Staging,
    tenant_id: uuid.UUID,
    month: date,
    *,
    trigger: str,
    requested_by: uuid.UUID | None = None,
) -> tuple[Statement, bool]:
    """Build the statement; returns it and whether it is new (False: the same CSV as the latest one)."""
    month = month.replace(day=1)
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"statement:{tenant_id}:{month}"}
    )
    data = compute(session, tenant_id, month)
    csv_bytes = render_csv(data)
    digest = hashlib.sha256(csv_bytes).hexdigest()
    latest = latest_of(session, tenant_id, month)
    if latest is not None and latest.csv_sha256 == digest:
        log.info("statement_unchanged", statement_id=str(latest.id))
        audit.unchanged()
        return latest, False
    statement = Statement(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        month=month,
        number=(latest.number + 1) if latest else 1,
        trigger=trigger,
        requested_by=requested_by,
        total=data.total,
        totals=data.totals(),
        csv_sha256=digest,
        created_at=utcnow(),
    )
    session.add(statement)
    tenant = session.get(TenantRM, tenant_id)
    bodies = {"csv": csv_bytes, "xlsx": render_xlsx(data), "pdf": render_pdf(data)}
    for fmt, body in bodies.items():
        filename = f"atmaksas-parskats-{month:%Y-%m}-{statement.number}.{fmt}"
        key = f"staging/finance/{tenant_id}/{month:%Y-%m}/{statement.id}/{filename}"
        staging.put(key, body, MEDIA[fmt])
        file = StatementFile(
            format=fmt,
            document_id=uuid.uuid4(),
            object_key=key,
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            media_type=MEDIA[fmt],
            filename=filename,
        )
        statement.files.append(file)
        outbox.publish(
            session,
            "documents.register_statement",
            {
                "document_id": str(file.document_id),
                "statement_id": str(statement.id),
                "tenant_id": str(tenant_id),
                "region": tenant.region if tenant else None,
                "month": month.isoformat(),
                "format": fmt,
                "object_key": key,
                "sha256": file.sha256,
                "size": file.size,
                "media_type": file.media_type,
                "filename": filename,
                "requested_by": str(requested_by) if requested_by else None,
            },
        )
    session.flush()
    pdf = next(f for f in statement.files if f.format == "pdf")
    outbox.publish(
        session,
        "notifications.statement_ready",
        {
            "statement_id": str(statement.id),
            "tenant_id": str(tenant_id),
            "month": month.isoformat(),
            "document_id": str(pdf.document_id),
            "total": str(statement.total),
        },
    )
    audit.record(
        session,
        None,
        "statement.built",
        "statement",
        statement.id,
        tenant_id=tenant_id,
        actor_id=requested_by,
        month=month,
        number=statement.number,
        trigger=trigger,
        total=statement.total,
        csv_sha256=digest,
    )
    log.info("statement_built", statement_id=str(statement.id), number=statement.number, trigger=trigger)
    return statement, True


def latest_of(session: Session, tenant_id: uuid.UUID, month: date) -> Statement | None:
    return session.execute(
        select(Statement)
        .where(Statement.tenant_id == tenant_id, Statement.month == month)
        .order_by(Statement.number.desc())
        .limit(1)
    ).scalar_one_or_none()


def previous_month(day: date) -> date:
    first = day.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def scheduled(session: Session, outbox: Outbox, staging: Staging, on: date | None = None) -> int:
    """On the statement day, build last month's statement of every tenant that has none yet."""
    on = on or budgets.today()
    prog = programme.in_force(session, on)
    if on.day != prog.statement_day:
        return 0
    month = previous_month(on)
    built = 0
    for tenant_id in session.execute(
        select(TenantRM.id).where(TenantRM.active.is_(True)).order_by(TenantRM.id)
    ).scalars():
        if latest_of(session, tenant_id, month) is None and compute(session, tenant_id, month).lines:
            build(session, outbox, staging, tenant_id, month, trigger="schedule")
            built += 1
    return built
