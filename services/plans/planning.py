"""Plans, their risks and measures, and every transition of the lifecycle, with no Flask in them.

Each change records a transition or an audit event and a timeline event, and publishes what other
services need (finance's plan snapshot, notifications' approvals and returns) in the same transaction.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from services.common import audit
from services.common.auth import (
    DIRECTOR,
    MUNICIPALITY_COORDINATOR,
    PLAN_PREPARER,
    SCHOOL_COORDINATOR,
    TEACHER,
    Principal,
)
from services.common.db import utcnow
from services.common.errors import ApiError, Conflict, Forbidden, NotFound
from services.common.messaging import Outbox

from . import workflow
from .access import ensure_readable, has_school_role, read_scope, require_school_role
from .models import Measure, Plan, PlanTransition, Risk, SchoolRM, Student, TenantRM, TimelineEvent, UserRM
from .readmodels import ProgrammeSettings, current_settings

RISK_CATEGORIES = ("learning", "social_health", "economic", "family")
EDITORS = (PLAN_PREPARER, SCHOOL_COORDINATOR)
LEVEL_ROLE = {workflow.DIRECTOR: DIRECTOR, workflow.MUNICIPALITY: MUNICIPALITY_COORDINATOR}


def rule_conflict(exc: workflow.RuleBroken, plan: Plan) -> Conflict:
    return Conflict(exc.code, exc.en, exc.lv, status_now=plan.status, pending_level=plan.pending_level)


# ---- reading ------------------------------------------------------------------------------------


def plans_query(principal: Principal, f: dict[str, Any]) -> Select[Any]:
    query = select(Plan).where(read_scope(principal, Plan.tenant_id, Plan.school_id))
    for key in ("school_id", "student_id", "status", "semester", "pending_level", "tenant_id"):
        if f.get(key):
            query = query.where(getattr(Plan, key) == f[key])
    if f.get("awaiting_me"):
        query = query.where(_awaiting_clause(principal))
    if f.get("q"):
        query = query.where(Plan.code.ilike(f"%{f['q'].replace('%', '')}%"))
    # a list shows summaries (risk categories, a count of measures): the measures' own risks are not loaded
    return query.options(selectinload(Plan.risks), selectinload(Plan.measures), selectinload(Plan.student)).order_by(
        Plan.updated_at.desc(), Plan.id
    )


def _awaiting_clause(principal: Principal) -> Any:
    from sqlalchemy import and_, false, or_

    clauses = []
    if principal.is_platform_admin:
        clauses.append(Plan.pending_level == workflow.IKVD)
    for g in principal.grants_of(DIRECTOR):
        clauses.append(and_(Plan.pending_level == workflow.DIRECTOR, Plan.school_id == uuid.UUID(g.school_id)))
    for g in principal.grants_of(MUNICIPALITY_COORDINATOR):
        clauses.append(and_(Plan.pending_level == workflow.MUNICIPALITY, Plan.tenant_id == uuid.UUID(g.tenant_id)))
    return or_(*clauses) if clauses else false()


def get_plan(session: Session, principal: Principal, plan_id: uuid.UUID, *, lock: bool = False) -> Plan:
    plan = session.get(Plan, plan_id, with_for_update=lock or None)
    return ensure_readable(session, principal, plan, "plan")  # type: ignore[no-any-return]


# ---- creating and editing -----------------------------------------------------------------------


def create_plan(session: Session, outbox: Outbox, principal: Principal, data: dict[str, Any], eligible: Any) -> Plan:
    student = ensure_readable(session, principal, session.get(Student, data["student_id"]), "student")
    require_school_role(principal, student.tenant_id, student.school_id, *EDITORS)
    school = session.get(SchoolRM, student.school_id)
    settings = current_settings(session)
    semester = settings.semester(data["semester"], student.tenant_id, school.kind if school else "general")
    if semester is None:
        raise ApiError(
            422,
            "semester_unknown",
            "No such semester in the programme settings for this school.",
            detail_lv="Programmas iestatījumos šai skolai nav tāda semestra.",
            errors={"semester": ["unknown"]},
        )
    verdict = eligible(student, semester["starts_on"])
    if not verdict:
        raise Conflict(
            "student_not_eligible",
            "The student is not eligible for support in this semester.",
            "Izglītojamais šajā semestrī nav tiesīgs saņemt atbalstu.",
            reasons=getattr(verdict, "reasons", []),
        )
    preparer_id = data.get("preparer_id") or uuid.UUID(principal.user_id)
    preparer = session.get(UserRM, preparer_id)
    if preparer is None or preparer.tenant_id != student.tenant_id:
        raise ApiError(
            422,
            "preparer_unknown",
            "The preparer is not a user of this tenant.",
            detail_lv="Sagatavotājs nav šīs iestādes lietotājs.",
            errors={"preparer_id": ["unknown"]},
        )
    duplicate = session.execute(
        select(Plan.id).where(
            Plan.student_id == student.id, Plan.semester == data["semester"], Plan.status != workflow.INACTIVE
        )
    ).first()
    if duplicate:
        raise Conflict(
            "plan_exists",
            "The student already has a plan for this semester.",
            "Izglītojamajam šim semestrim jau ir plāns.",
            plan_id=str(duplicate[0]),
        )
    plan = Plan(
        id=uuid.uuid4(),
        code=_plan_code(data["semester"]),
        tenant_id=student.tenant_id,
        school_id=student.school_id,
        student_id=student.id,
        semester=data["semester"],
        semester_start=semester["starts_on"],
        semester_end=semester["ends_on"],
        status=workflow.DRAFT,
        preparer_id=preparer_id,
        prepared_on=data.get("prepared_on") or date.today(),
        preparation_hours=data.get("preparation_hours", Decimal("0")),
        revision=1,
    )
    session.add(plan)
    session.flush()
    _timeline(session, plan, "plan_created", f"Izveidots plāns {plan.code}", f"Plan {plan.code} created")
    _audit(session, principal, "plan.created", plan)
    _money_changed(session, outbox, plan, settings, bump=False)
    return plan


def _plan_code(semester: str) -> str:
    compact = "".join(ch for ch in semester if ch.isalnum())
    return f"IAP-{compact}-{secrets.token_hex(3).upper()}"


def _editable_plan(session: Session, principal: Principal, plan_id: uuid.UUID) -> Plan:
    plan = get_plan(session, principal, plan_id, lock=True)
    require_school_role(principal, plan.tenant_id, plan.school_id, *EDITORS)
    try:
        workflow.editable(plan.status)
    except workflow.RuleBroken as exc:
        raise rule_conflict(exc, plan) from None
    return plan


def update_plan(
    session: Session, outbox: Outbox, principal: Principal, plan_id: uuid.UUID, data: dict[str, Any]
) -> Plan:
    """Change preparation hours, preparer or preparation date (the application goes on file by its upload)."""
    plan = _editable_plan(session, principal, plan_id)
    settings = current_settings(session)
    if "preparation_hours" in data and data["preparation_hours"] > settings.preparation_cap:
        raise ApiError(
            422,
            "preparation_hours_over_cap",
            f"Preparation and supervision hours are at most {settings.preparation_cap}.",
            detail_lv=f"Sagatavošanas stundas nedrīkst pārsniegt {settings.preparation_cap}.",
            errors={"preparation_hours": ["over the cap"]},
        )
    if data.get("preparer_id"):
        preparer = session.get(UserRM, data["preparer_id"])
        if preparer is None or preparer.tenant_id != plan.tenant_id:
            raise ApiError(
                422,
                "preparer_unknown",
                "The preparer is not a user of this tenant.",
                detail_lv="Sagatavotājs nav šīs iestādes lietotājs.",
                errors={"preparer_id": ["unknown"]},
            )
    for key, value in data.items():
        setattr(plan, key, value)
    _audit(session, principal, "plan.updated", plan, fields=sorted(data))
    _money_changed(session, outbox, plan, settings)
    return plan


def add_risk(session: Session, outbox: Outbox, principal: Principal, plan_id: uuid.UUID, data: dict[str, Any]) -> Risk:
    plan = _editable_plan(session, principal, plan_id)
    risk = Risk(id=uuid.uuid4(), plan_id=plan.id, category=data["category"], justification=data["justification"])
    plan.risks.append(risk)
    _audit(session, principal, "plan.risk_added", plan, category=risk.category)
    session.flush()
    return risk


def remove_risk(session: Session, outbox: Outbox, principal: Principal, plan_id: uuid.UUID, risk_id: uuid.UUID) -> None:
    plan = _editable_plan(session, principal, plan_id)
    risk = next((r for r in plan.risks if r.id == risk_id), None)
    if risk is None:
        raise NotFound("risk")
    if any(risk in m.risks for m in plan.measures):
        raise Conflict(
            "risk_in_use",
            "A measure is linked to this risk; change the measure first.",
            "Šim riskam ir piesaistīts pasākums; vispirms mainiet pasākumu.",
        )
    plan.risks.remove(risk)
    _audit(session, principal, "plan.risk_removed", plan, category=risk.category)


def add_measure(
    session: Session, outbox: Outbox, principal: Principal, plan_id: uuid.UUID, data: dict[str, Any]
) -> Measure:
    plan = _editable_plan(session, principal, plan_id)
    settings = current_settings(session)
    risks = [r for r in plan.risks if r.id in set(data["risk_ids"])]
    if len(risks) != len(set(data["risk_ids"])):
        raise ApiError(
            422,
            "risk_unknown",
            "A linked risk is not a risk of this plan.",
            detail_lv="Piesaistītais risks nav šī plāna risks.",
            errors={"risk_ids": ["unknown"]},
        )
    if data["kind"] == "compensation":
        if data["category"] not in settings.compensation_categories:
            raise ApiError(
                422,
                "category_unknown",
                "No such compensation category in the programme settings.",
                detail_lv="Programmas iestatījumos nav šādas kompensācijas kategorijas.",
                errors={"category": ["unknown"]},
            )
        if not any(r.category == "economic" for r in risks):
            raise ApiError(
                422,
                "compensation_needs_economic_risk",
                "A compensation is planned only against an economic risk.",
                detail_lv="Kompensāciju var plānot tikai ekonomiskam riskam.",
                errors={"risk_ids": ["no economic risk"]},
            )
    measure = Measure(
        id=uuid.uuid4(),
        plan_id=plan.id,
        kind=data["kind"],
        provider_type=data.get("provider_type"),
        planned_hours=data.get("planned_hours"),
        category=data.get("category"),
        planned_amount=data.get("planned_amount"),
    )
    measure.risks = risks
    plan.measures.append(measure)
    session.flush()
    _audit(session, principal, "plan.measure_added", plan, kind=measure.kind)
    _money_changed(session, outbox, plan, settings)
    return measure


def remove_measure(
    session: Session, outbox: Outbox, principal: Principal, plan_id: uuid.UUID, measure_id: uuid.UUID
) -> None:
    plan = _editable_plan(session, principal, plan_id)
    measure = next((m for m in plan.measures if m.id == measure_id), None)
    if measure is None:
        raise NotFound("measure")
    from .models import Agreement

    if session.execute(select(Agreement.id).where(Agreement.measure_id == measure.id)).first():
        raise Conflict(
            "measure_has_agreements",
            "Agreements exist on this measure; it stays.",
            "Šim pasākumam ir noslēgtas vienošanās; to nevar dzēst.",
        )
    plan.measures.remove(measure)
    _audit(session, principal, "plan.measure_removed", plan, kind=measure.kind)
    _money_changed(session, outbox, plan, current_settings(session))


# ---- transitions --------------------------------------------------------------------------------


def transition(
    session: Session,
    outbox: Outbox,
    principal: Principal,
    plan_id: uuid.UUID,
    action: str,
    data: dict[str, Any],
    today: date | None = None,
) -> Plan:
    """Apply one lifecycle action; refusals are 403 (role) or 409 (rule) with the rule's code."""
    plan = get_plan(session, principal, plan_id, lock=True)
    tenant = session.get(TenantRM, plan.tenant_id)
    tenant_kind = tenant.kind if tenant else "municipality"
    today = today or date.today()
    comment = data.get("comment") or data.get("reason")
    level = None
    settings = current_settings(session) if action in ("submit",) else None
    try:
        if action == "submit":
            require_school_role(principal, plan.tenant_id, plan.school_id, *EDITORS)
            outcome = workflow.submit(_submit_facts(session, plan, settings), tenant_kind)  # type: ignore[arg-type]
        elif action in ("approve", "send_back"):
            level = _acting_level(principal, plan)
            outcome = (
                workflow.approve(plan.status, plan.pending_level, level, tenant_kind)
                if action == "approve"
                else workflow.send_back(plan.status, plan.pending_level, level, comment)
            )
        elif action == "suspend":
            require_school_role(principal, plan.tenant_id, plan.school_id, DIRECTOR)
            outcome = workflow.suspend(plan.status, comment)
            plan.suspended_reason = comment
        elif action == "resume":
            require_school_role(principal, plan.tenant_id, plan.school_id, DIRECTOR)
            outcome = workflow.resume(plan.status, today, plan.semester_start, plan.semester_end)
        elif action == "review":
            require_school_role(principal, plan.tenant_id, plan.school_id, DIRECTOR, *EDITORS)
            outcome = workflow.review(plan.status)
        elif action == "delete":
            require_school_role(principal, plan.tenant_id, plan.school_id, DIRECTOR, SCHOOL_COORDINATOR)
            outcome = workflow.delete(plan.status, plan.paid_so_far)
        else:  # pragma: no cover - the API offers only the actions above
            raise NotFound("action")
    except workflow.RuleBroken as exc:
        raise rule_conflict(exc, plan) from None
    apply(session, outbox, principal, plan, outcome, action, level, comment)
    return plan


def _acting_level(principal: Principal, plan: Plan) -> str:
    """The approval level this principal acts at for this plan (the one the plan waits at, if theirs)."""
    mine = []
    if has_school_role(principal, plan.tenant_id, plan.school_id, DIRECTOR):
        mine.append(workflow.DIRECTOR)
    if any(g.tenant_id == str(plan.tenant_id) for g in principal.grants_of(MUNICIPALITY_COORDINATOR)):
        mine.append(workflow.MUNICIPALITY)
    if principal.is_platform_admin:
        mine.append(workflow.IKVD)
    if not mine:
        raise Forbidden("Only the approvers of the chain approve or send back plans.")
    return plan.pending_level if plan.pending_level in mine else mine[0]


def _submit_facts(session: Session, plan: Plan, settings: ProgrammeSettings) -> workflow.SubmitFacts:
    adult_on = eighteenth_birthday(plan.student.birth_date)
    preparer = session.get(UserRM, plan.preparer_id)
    is_teacher = bool(
        preparer
        and preparer.active
        and any(g.get("role") == TEACHER and g.get("school_id") == str(plan.school_id) for g in preparer.roles)
    )
    return workflow.SubmitFacts(
        status=plan.status,
        has_risks=bool(plan.risks),
        has_measures=bool(plan.measures),
        application_on_file=plan.application_version is not None and plan.application_document_id is not None,
        application_signer=plan.application_signer,
        student_is_minor=plan.prepared_on < adult_on,
        preparer_is_teacher=is_teacher,
        preparation_hours=plan.preparation_hours,
        preparation_cap=settings.preparation_cap,
        financing_known=compute_financing(plan, settings) is not None,
    )


def eighteenth_birthday(born: date) -> date:
    try:
        return born.replace(year=born.year + 18)
    except ValueError:  # born on 29 February
        return date(born.year + 18, 3, 1)


def apply(
    session: Session,
    outbox: Outbox,
    principal: Principal,
    plan: Plan,
    outcome: workflow.Outcome,
    action: str,
    level: str | None,
    comment: str | None,
) -> None:
    """Record a transition and tell who needs to know; also used by agreements (approved → in progress)."""
    before = plan.status
    plan.status, plan.pending_level = outcome.status, outcome.pending_level
    at = utcnow()  # one time for the transition and every message about it, so receivers can order them
    plan.transitions.append(
        PlanTransition(
            id=uuid.uuid4(),
            at=at,
            actor_id=uuid.UUID(principal.user_id),
            action=action,
            from_status=before,
            to_status=plan.status,
            level=level,
            comment=comment,
        )
    )
    _audit(session, principal, f"plan.{action}", plan, from_status=before, to_status=plan.status, level=level)
    lv, en = workflow.STATUS_LV[plan.status], plan.status.replace("_", " ")
    _timeline(
        session,
        plan,
        f"plan_{action}",
        f"Plāns {plan.code}: {workflow.STATUS_LV[before]} → {lv}",
        f"Plan {plan.code}: {before.replace('_', ' ')} → {en}",
        comment=comment,
        level=level,
    )
    common = {
        "plan_id": str(plan.id),
        "code": plan.code,
        "tenant_id": str(plan.tenant_id),
        "school_id": str(plan.school_id),
    }
    if plan.pending_level:
        outbox.publish(
            session,
            "notifications.plan_awaiting_approval",
            {**common, "level": plan.pending_level, "since": at.isoformat()},
        )
    if action == "send_back":
        outbox.publish(
            session,
            "notifications.plan_returned",
            {
                **common,
                "preparer_id": str(plan.preparer_id),
                "level": level,
                "comment": comment,
                "decided_by": principal.user_id,
                "decided_at": at.isoformat(),
                "semester": plan.semester,
            },
        )
    if action == "approve" and plan.status == workflow.APPROVED:
        outbox.publish(
            session,
            "notifications.plan_approved",
            {
                **common,
                "preparer_id": str(plan.preparer_id),
                "level": level,
                "comment": comment,
                "decided_by": principal.user_id,
                "decided_at": at.isoformat(),
                "semester": plan.semester,
            },
        )
    _money_changed(session, outbox, plan, current_settings(session))


# ---- money, timeline, audit ---------------------------------------------------------------------


def compute_financing(plan: Plan, settings: ProgrammeSettings) -> Decimal | None:
    return workflow.planned_financing(
        [(m.provider_type or "", m.planned_hours or Decimal("0")) for m in plan.measures if m.kind == "consultation"],
        [m.planned_amount or Decimal("0") for m in plan.measures if m.kind == "compensation"],
        plan.preparation_hours,
        settings.rates,
        settings.preparation_rate,
    )


def _money_changed(
    session: Session, outbox: Outbox, plan: Plan, settings: ProgrammeSettings, bump: bool = True
) -> None:
    """Recompute the planned financing and send finance the plan as it now stands."""
    plan.planned_financing = compute_financing(plan, settings)
    plan.settings_revision = settings.revision
    if bump:
        plan.revision += 1
    session.flush()
    outbox.publish(session, "finance.sync_plan", snapshot(plan))


def snapshot(plan: Plan) -> dict[str, Any]:
    return {
        "plan_id": str(plan.id),
        "revision": plan.revision,
        "code": plan.code,
        "tenant_id": str(plan.tenant_id),
        "school_id": str(plan.school_id),
        "student_id": str(plan.student_id),
        "student_key": plan.student.code_hash,
        "semester": plan.semester,
        "semester_start": plan.semester_start.isoformat(),
        "semester_end": plan.semester_end.isoformat(),
        "status": plan.status,
        "prepared_on": plan.prepared_on.isoformat(),
        "preparation_hours": str(plan.preparation_hours),
        "planned_financing": str(plan.planned_financing) if plan.planned_financing is not None else None,
        "measures": [
            {
                "measure_id": str(m.id),
                "kind": m.kind,
                "provider_type": m.provider_type,
                "planned_hours": str(m.planned_hours) if m.planned_hours is not None else None,
                "category": m.category,
                "planned_amount": str(m.planned_amount) if m.planned_amount is not None else None,
            }
            for m in plan.measures
        ],
    }


def _timeline(session: Session, plan: Plan, kind: str, lv: str, en: str, **details: Any) -> None:
    session.add(
        TimelineEvent(
            tenant_id=plan.tenant_id,
            student_id=plan.student_id,
            plan_id=plan.id,
            at=utcnow(),
            source="plans",
            source_key=f"{kind}:{plan.id}:{uuid.uuid4().hex}",
            kind=kind,
            summary_lv=lv,
            summary_en=en,
            details={k: v for k, v in details.items() if v is not None},
        )
    )


def _audit(session: Session, principal: Principal, action: str, plan: Plan, **details: Any) -> None:
    audit.record(session, principal, action, "plan", plan.id, tenant_id=plan.tenant_id, **details)
