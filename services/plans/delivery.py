"""Support delivered on a plan: agreements, consultations (KA form lines) and the semester evaluation.

Each function loads the facts, applies a rule of `delivery_rules`, writes the record with its timeline
and audit events, and publishes what finance must know, all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.common.auth import DIRECTOR, PLAN_PREPARER, SCHOOL_COORDINATOR, SUPPORT_PROVIDER, TEACHER, Principal
from services.common.db import utcnow
from services.common.errors import ApiError, Conflict, Forbidden, NotFound
from services.common.messaging import Outbox

from . import planning, workflow
from .access import has_school_role, require_school_role
from .delivery_rules import (
    OUTCOME_LV,
    REMOTE_KIND,
    ConsultationFacts,
    OrderFacts,
    check_agreement_date,
    check_consultation,
    check_evaluation,
    conflict,
    riga_today,
)
from .models import (
    Agreement,
    Consultation,
    DirectorOrder,
    Evaluation,
    Measure,
    OrderProvider,
    OrderStudent,
    Plan,
    UserRM,
)
from .timeline import audit, record
from .workflow import RuleBroken

# ---- who provides support -----------------------------------------------------------------------

# Who agrees with the student on a measure: the support provider who gives a consultation; for a compensation
# (a ticket, meals, a dormitory) the school's coordinator, who runs the programme in the school and arranges it.
# So a plan of compensations alone starts with the coordinator's agreement, as one of consultations with the
# provider's (DOMAIN.md: application, approval, agreement, then support).
COUNTERPART = {"consultation": SUPPORT_PROVIDER, "compensation": SCHOOL_COORDINATOR}


def holds_school_role(user: UserRM | None, role: str, tenant_id: uuid.UUID, school_id: uuid.UUID) -> bool:
    """An active user holding `role` in this school (or tenant-wide in its tenant)."""
    if user is None or not user.active:
        return False
    return any(
        g.get("role") == role and g.get("tenant_id") == str(tenant_id) and g.get("school_id") in (None, str(school_id))
        for g in user.roles
    )


def is_support_provider(user: UserRM | None, tenant_id: uuid.UUID, school_id: uuid.UUID) -> bool:
    """An active user holding `support_provider` in this school (or tenant-wide in its tenant)."""
    return holds_school_role(user, SUPPORT_PROVIDER, tenant_id, school_id)


def _is_self_provider(principal: Principal, plan: Plan, provider_id: uuid.UUID) -> bool:
    return principal.user_id == str(provider_id) and has_school_role(
        principal, plan.tenant_id, plan.school_id, SUPPORT_PROVIDER
    )


def _measure(plan: Plan, measure_id: uuid.UUID, *, consultation: bool = True) -> Measure:
    """The plan's measure; a consultation unless `consultation` is False (agreements are on either kind)."""
    measure = next((m for m in plan.measures if m.id == measure_id), None)
    if measure is None:
        raise ApiError(
            422,
            "measure_unknown",
            "The measure is not a measure of this plan.",
            detail_lv="Pasākums nav šī plāna pasākums.",
            errors={"measure_id": ["unknown"]},
        )
    if consultation and measure.kind != "consultation":
        raise ApiError(
            422,
            "measure_not_consultation",
            "Consultations are given on consultation measures; a compensation is paid on its expense documents.",
            detail_lv="Konsultācijas sniedz konsultāciju pasākumos; kompensāciju apmaksā pēc izdevumu dokumentiem.",
            errors={"measure_id": ["not a consultation"]},
        )
    return measure


def _provider(session: Session, plan: Plan, provider_id: uuid.UUID, kind: str = "consultation") -> UserRM:
    """The measure's counterpart: an active support provider (consultations) or school coordinator (compensations)."""
    user = session.get(UserRM, provider_id)
    if kind == "compensation" and not holds_school_role(user, SCHOOL_COORDINATOR, plan.tenant_id, plan.school_id):
        raise ApiError(
            422,
            "provider_not_school_coordinator",
            "An agreement on a compensation is made with an active coordinator of the plan's school.",
            detail_lv="Vienošanos par kompensāciju slēdz ar plāna skolas aktīvu koordinatoru.",
            errors={"provider_id": ["not a coordinator of the school"]},
        )
    if kind == "consultation" and not is_support_provider(user, plan.tenant_id, plan.school_id):
        raise ApiError(
            422,
            "provider_not_support_provider",
            "The provider is not an active support provider of the plan's school.",
            detail_lv="Norādītais lietotājs nav šīs skolas aktīvs atbalsta sniedzējs.",
            errors={"provider_id": ["not a support provider of the school"]},
        )
    assert user is not None
    return user


# ---- agreements ---------------------------------------------------------------------------------


def record_agreement(
    session: Session,
    outbox: Outbox,
    principal: Principal,
    plan_id: uuid.UUID,
    data: dict[str, Any],
    today: date | None = None,
) -> dict[str, Any]:
    """Record an agreement on a measure (a provider's on a consultation, the school coordinator's on a
    compensation); the first one starts the plan."""
    plan = planning.get_plan(session, principal, plan_id, lock=True)
    provider_id = data["provider_id"]
    if not (
        has_school_role(principal, plan.tenant_id, plan.school_id, SCHOOL_COORDINATOR, DIRECTOR)
        or _is_self_provider(principal, plan, provider_id)
    ):
        raise Forbidden("Agreements are recorded by the school coordinator, the director or the provider.")
    measure = _measure(plan, data["measure_id"], consultation=False)
    provider = _provider(session, plan, provider_id, measure.kind)
    try:
        check_agreement_date(data["signed_on"], today or riga_today())
        outcome = workflow.start(plan.status)
    except RuleBroken as exc:
        raise planning.rule_conflict(exc, plan) from None
    exists = session.execute(
        select(Agreement.id).where(Agreement.measure_id == measure.id, Agreement.provider_id == provider_id)
    ).first()
    if exists:
        raise Conflict(
            "agreement_exists",
            "This provider already has an agreement on this measure.",
            "Šim atbalsta sniedzējam par šo pasākumu vienošanās jau ir noslēgta.",
            agreement_id=str(exists[0]),
        )
    agreement = Agreement(
        id=uuid.uuid4(),
        tenant_id=plan.tenant_id,
        plan_id=plan.id,
        measure_id=measure.id,
        provider_id=provider_id,
        signed_on=data["signed_on"],
        created_by=uuid.UUID(principal.user_id),
        created_at=utcnow(),
    )
    session.add(agreement)
    session.flush()
    with_lv, with_en = (
        (f"atbalsta sniedzēju {provider.full_name} ({measure.provider_type})", f"provider {provider.full_name}")
        if measure.kind == "consultation"
        else (f"koordinatoru {provider.full_name} (kompensācija)", f"coordinator {provider.full_name}")
    )
    record(
        session,
        plan,
        "agreement_signed",
        str(agreement.id),
        f"Noslēgta vienošanās ar {with_lv}",
        f"Agreement signed with {with_en} ({measure.provider_type or measure.category})",
        agreement_id=agreement.id,
        measure_id=measure.id,
        provider_id=provider_id,
        signed_on=agreement.signed_on,
    )
    audit(session, principal, "agreement.recorded", "agreement", agreement.id, plan.tenant_id, plan_id=plan.id)
    if outcome is not None:
        planning.apply(session, outbox, principal, plan, outcome, "start", None, None)
    return agreement_view(agreement, provider, measure)


def agreement_view(agreement: Agreement, provider: UserRM | None, measure: Measure | None) -> dict[str, Any]:
    return {
        "id": agreement.id,
        "plan_id": agreement.plan_id,
        "measure_id": agreement.measure_id,
        "measure_kind": measure.kind if measure else None,
        "provider_type": measure.provider_type if measure else None,
        "category": measure.category if measure else None,
        "provider_id": agreement.provider_id,
        "provider_name": provider.full_name if provider else None,
        "signed_on": agreement.signed_on,
        "created_by": agreement.created_by,
        "created_at": agreement.created_at,
    }


def list_agreements(session: Session, principal: Principal, plan_id: uuid.UUID) -> list[dict[str, Any]]:
    plan = planning.get_plan(session, principal, plan_id)
    rows = session.execute(
        select(Agreement, UserRM, Measure)
        .outerjoin(UserRM, UserRM.id == Agreement.provider_id)
        .join(Measure, Measure.id == Agreement.measure_id)
        .where(Agreement.plan_id == plan.id)
        .order_by(Agreement.signed_on, Agreement.created_at)
    ).all()
    return [agreement_view(a, u, m) for a, u, m in rows]


# ---- consultations (KA form) --------------------------------------------------------------------


def record_consultation(
    session: Session,
    outbox: Outbox,
    principal: Principal,
    plan_id: uuid.UUID,
    data: dict[str, Any],
    confirmation_days: int,
    today: date | None = None,
) -> dict[str, Any]:
    """Record a KA form line; finance is told of the delivered hours once the transaction commits."""
    # the plan row lock serialises lines of one plan, so two at once cannot both pass the hours cap
    plan = planning.get_plan(session, principal, plan_id, lock=True)
    provider_id = data["provider_id"]
    if not (
        has_school_role(principal, plan.tenant_id, plan.school_id, SCHOOL_COORDINATOR)
        or _is_self_provider(principal, plan, provider_id)
    ):
        raise Forbidden("Consultations are recorded by the provider or the school coordinator.")
    measure = _measure(plan, data["measure_id"])
    provider = _provider(session, plan, provider_id)
    signed_on = session.execute(
        select(Agreement.signed_on).where(Agreement.measure_id == measure.id, Agreement.provider_id == provider_id)
    ).scalar_one_or_none()
    delivered = session.execute(
        select(func.coalesce(func.sum(Consultation.hours), 0)).where(Consultation.measure_id == measure.id)
    ).scalar_one()
    order = None
    if data["mode"] == "remote":
        order = _remote_order(session, plan, provider_id, data["held_on"], data.get("order_id"))
    facts = ConsultationFacts(
        plan_status=plan.status,
        semester_start=plan.semester_start,
        semester_end=plan.semester_end,
        today=today or riga_today(),
        held_on=data["held_on"],
        hours=data["hours"],
        planned_hours=measure.planned_hours or Decimal("0"),
        delivered_hours=Decimal(delivered),
        agreement_signed_on=signed_on,
        mode=data["mode"],
        confirmed_on=data.get("student_confirmed_on"),
        confirmation_days=confirmation_days,
        order=_order_facts(order) if order else None,
        school_id=plan.school_id,
        plan_id=plan.id,
        provider_id=provider_id,
    )
    try:
        check_consultation(facts)
    except RuleBroken as exc:
        raise conflict(exc) from None
    line = Consultation(
        id=uuid.uuid4(),
        tenant_id=plan.tenant_id,
        plan_id=plan.id,
        measure_id=measure.id,
        provider_id=provider_id,
        held_on=data["held_on"],
        hours=data["hours"],
        subject=data["subject"],
        mode=data["mode"],
        order_id=order.id if order else None,
        student_confirmed_on=data.get("student_confirmed_on"),
        created_by=uuid.UUID(principal.user_id),
        created_at=utcnow(),
    )
    session.add(line)
    session.flush()
    mode_lv = "attālināti" if line.mode == "remote" else "klātienē"
    record(
        session,
        plan,
        "consultation_recorded",
        str(line.id),
        f"Konsultācija {line.held_on:%d.%m.%Y}: {line.hours} h, {line.subject} ({mode_lv}), {provider.full_name}",
        f"Consultation on {line.held_on}: {line.hours} h, {line.subject} ({line.mode.replace('_', ' ')}), "
        f"{provider.full_name}",
        consultation_id=line.id,
        measure_id=measure.id,
        provider_id=provider_id,
        held_on=line.held_on,
        hours=line.hours,
        mode=line.mode,
    )
    audit(session, principal, "consultation.recorded", "consultation", line.id, plan.tenant_id, plan_id=plan.id)
    outbox.publish(
        session,
        "finance.consultation_delivered",
        {
            "consultation_id": str(line.id),
            "plan_id": str(plan.id),
            "measure_id": str(measure.id),
            "tenant_id": str(plan.tenant_id),
            "school_id": str(plan.school_id),
            "provider_type": measure.provider_type,
            "held_on": line.held_on.isoformat(),
            "hours": str(line.hours),
            "mode": line.mode,
        },
    )
    return consultation_view(line, provider, measure, order)


def _remote_order(
    session: Session, plan: Plan, provider_id: uuid.UUID, held_on: date, order_id: uuid.UUID | None
) -> DirectorOrder | None:
    """The order named (if it is a remote-consultations order of this school), or one that covers the line."""
    base = select(DirectorOrder).where(
        DirectorOrder.tenant_id == plan.tenant_id,
        DirectorOrder.school_id == plan.school_id,
        DirectorOrder.kind == REMOTE_KIND,
    )
    if order_id is not None:
        return session.execute(base.where(DirectorOrder.id == order_id)).scalar_one_or_none()
    covering = (
        base.where(DirectorOrder.valid_from <= held_on, DirectorOrder.valid_to >= held_on)
        .where(DirectorOrder.id.in_(select(OrderStudent.order_id).where(OrderStudent.plan_id == plan.id)))
        .where(DirectorOrder.id.in_(select(OrderProvider.order_id).where(OrderProvider.provider_id == provider_id)))
        .order_by(DirectorOrder.issued_on.desc(), DirectorOrder.created_at.desc())
        .limit(1)
    )
    return session.execute(covering).scalar_one_or_none()


def _order_facts(order: DirectorOrder) -> OrderFacts:
    return OrderFacts(
        kind=order.kind,
        school_id=order.school_id,
        valid_from=order.valid_from,
        valid_to=order.valid_to,
        plan_ids=frozenset(s.plan_id for s in order.students),
        provider_ids=frozenset(p.provider_id for p in order.providers),
    )


def consultation_view(
    line: Consultation, provider: UserRM | None, measure: Measure | None, order: DirectorOrder | None
) -> dict[str, Any]:
    return {
        "id": line.id,
        "plan_id": line.plan_id,
        "measure_id": line.measure_id,
        "measure_kind": measure.kind if measure else None,
        "provider_type": measure.provider_type if measure else None,
        "category": measure.category if measure else None,
        "provider_id": line.provider_id,
        "provider_name": provider.full_name if provider else None,
        "held_on": line.held_on,
        "hours": line.hours,
        "subject": line.subject,
        "mode": line.mode,
        "order_id": line.order_id,
        "order_number": order.number if order else None,
        "student_confirmed_on": line.student_confirmed_on,
        "created_by": line.created_by,
        "created_at": line.created_at,
    }


def _lines_query(plan_id: uuid.UUID) -> Select[Consultation, UserRM, Measure, DirectorOrder]:
    return (
        select(Consultation, UserRM, Measure, DirectorOrder)
        .outerjoin(UserRM, UserRM.id == Consultation.provider_id)
        .join(Measure, Measure.id == Consultation.measure_id)
        .outerjoin(DirectorOrder, DirectorOrder.id == Consultation.order_id)
        .where(Consultation.plan_id == plan_id)
    )


def list_consultations(session: Session, principal: Principal, plan_id: uuid.UUID, f: dict[str, Any]) -> dict[str, Any]:
    """One page of a plan's consultations, newest first, by measure, provider, mode or dates."""
    plan = planning.get_plan(session, principal, plan_id)
    query = _lines_query(plan.id)
    for key in ("measure_id", "provider_id", "mode"):
        if f.get(key):
            query = query.where(getattr(Consultation, key) == f[key])
    if f.get("held_from"):
        query = query.where(Consultation.held_on >= f["held_from"])
    if f.get("held_to"):
        query = query.where(Consultation.held_on <= f["held_to"])
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    page, size = f["page"], f["page_size"]
    rows = session.execute(
        query.order_by(Consultation.held_on.desc(), Consultation.created_at.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    items = [consultation_view(c, u, m, o) for c, u, m, o in rows]
    return {"items": items, "page": page, "page_size": size, "total": total}


def ka_form(session: Session, principal: Principal, plan_id: uuid.UUID) -> dict[str, Any]:
    """The consultative support form: every line by date, with providers' names and totals per measure."""
    plan = planning.get_plan(session, principal, plan_id)
    rows = session.execute(_lines_query(plan.id).order_by(Consultation.held_on, Consultation.created_at)).all()
    lines = [consultation_view(c, u, m, o) for c, u, m, o in rows]
    totals = []
    for m in plan.measures:
        if m.kind != "consultation":
            continue
        delivered = sum((line["hours"] for line in lines if line["measure_id"] == m.id), Decimal("0"))
        planned = m.planned_hours or Decimal("0")
        totals.append(
            {
                "measure_id": m.id,
                "provider_type": m.provider_type,
                "planned_hours": planned,
                "delivered_hours": delivered,
                "remaining_hours": planned - delivered,
                "lines": sum(1 for line in lines if line["measure_id"] == m.id),
            }
        )
    return {
        "plan_id": plan.id,
        "plan_code": plan.code,
        "status": plan.status,
        "school_id": plan.school_id,
        "semester": plan.semester,
        "semester_start": plan.semester_start,
        "semester_end": plan.semester_end,
        "student": plan.student,
        "lines": lines,
        "totals": totals,
        "total_hours": sum((line["hours"] for line in lines), Decimal("0")),
    }


# ---- the semester evaluation --------------------------------------------------------------------


def write_evaluation(
    session: Session,
    outbox: Outbox,
    principal: Principal,
    plan_id: uuid.UUID,
    data: dict[str, Any],
    today: date | None = None,
) -> Evaluation:
    """Write (or rewrite) the plan's semester evaluation: the preparer or a plan preparer of the school.

    Notifications is told once the transaction commits, so its reminders for the evaluation stop.
    """
    plan = planning.get_plan(session, principal, plan_id, lock=True)
    own = principal.user_id == str(plan.preparer_id) and has_school_role(
        principal, plan.tenant_id, plan.school_id, PLAN_PREPARER, TEACHER
    )
    if not own:
        require_school_role(
            principal,
            plan.tenant_id,
            plan.school_id,
            PLAN_PREPARER,
            detail="The evaluation is written by the plan's preparer or a plan preparer of the school.",
        )
    try:
        check_evaluation(plan.status, today or riga_today(), plan.semester_end)
    except RuleBroken as exc:
        raise planning.rule_conflict(exc, plan) from None
    evaluation = session.get(Evaluation, plan.id, with_for_update=True)
    first = evaluation is None
    if evaluation is None:
        evaluation = Evaluation(plan_id=plan.id)
        session.add(evaluation)
    evaluation.outcome, evaluation.text = data["outcome"], data["text"]
    evaluation.written_by, evaluation.written_at = uuid.UUID(principal.user_id), utcnow()
    session.flush()
    record(
        session,
        plan,
        "evaluation_written",
        f"{plan.id}:{uuid.uuid4().hex}",
        f"Plāna {plan.code} semestra izvērtējums: {OUTCOME_LV[evaluation.outcome]}",
        f"Semester evaluation of plan {plan.code}: {evaluation.outcome.replace('_', ' ')}",
        outcome=evaluation.outcome,
        rewritten=not first,
    )
    audit(
        session,
        principal,
        "evaluation.written" if first else "evaluation.rewritten",
        "plan",
        plan.id,
        plan.tenant_id,
        outcome=evaluation.outcome,
    )
    outbox.publish(
        session,
        "notifications.evaluation_written",
        {
            "plan_id": str(plan.id),
            "tenant_id": str(plan.tenant_id),
            "school_id": str(plan.school_id),
            "semester": plan.semester,
            "written_at": evaluation.written_at.isoformat(),
        },
    )
    return evaluation


def get_evaluation(session: Session, principal: Principal, plan_id: uuid.UUID) -> Evaluation:
    plan = planning.get_plan(session, principal, plan_id)
    evaluation = session.get(Evaluation, plan.id)
    if evaluation is None:
        raise NotFound("evaluation")
    return evaluation
