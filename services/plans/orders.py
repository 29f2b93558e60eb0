"""Director's orders: remote consultations and practice placements (DOMAIN.md, "Remote consultations").

An order names its period, the platform or way, how students confirm, the students (by their plans)
and the providers. Only the school's director registers one; the region's coordinator is told.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from services.common.auth import DIRECTOR, Principal
from services.common.db import utcnow
from services.common.errors import ApiError, Conflict, NotFound
from services.common.messaging import Outbox
from services.common.pagination import paginate

from . import workflow
from .access import can_read, ensure_readable, read_scope, require_school_role
from .delivery import is_support_provider
from .delivery_rules import riga_today
from .models import DirectorOrder, OrderProvider, OrderStudent, Plan, SchoolRM, Student, TenantRM, UserRM
from .timeline import audit, record

KINDS = ("remote_consultations", "practice_placement")
KIND_LV = {"remote_consultations": "attālinātām konsultācijām", "practice_placement": "prakses vietām"}


def _invalid(code: str, en: str, lv: str, errors: dict[str, Any]) -> ApiError:
    return ApiError(422, code, en, detail_lv=lv, errors=errors)


def register_order(
    session: Session,
    outbox: Outbox,
    principal: Principal,
    data: dict[str, Any],
    today: date | None = None,
) -> dict[str, Any]:
    """Register a director's order of a school; the region's coordinator is notified after commit."""
    school = session.get(SchoolRM, data["school_id"])
    if school is None or not can_read(session, principal, school.tenant_id, school.id):
        raise NotFound("school")
    require_school_role(
        principal, school.tenant_id, school.id, DIRECTOR, detail="Only the school's director issues orders."
    )
    today = today or riga_today()
    if data["valid_from"] > data["valid_to"]:
        raise _invalid(
            "period_invalid",
            "The order's period ends before it starts.",
            "Rīkojuma darbības periods beidzas pirms tā sākuma.",
            {"valid_to": ["before valid_from"]},
        )
    if data["issued_on"] > today:
        raise _invalid(
            "date_in_future",
            "An order is registered once it is issued.",
            "Rīkojumu reģistrē pēc tā izdošanas.",
            {"issued_on": ["in the future"]},
        )
    plans = _plans_of_school(session, school, data["plan_ids"])
    providers = _providers_of_school(session, school, data.get("providers") or [])
    taken = session.execute(
        select(DirectorOrder.id).where(DirectorOrder.school_id == school.id, DirectorOrder.number == data["number"])
    ).first()
    if taken:
        raise Conflict(
            "order_number_exists",
            f"The school already has an order number {data['number']}.",
            f"Skolai jau ir rīkojums ar numuru {data['number']}.",
            order_id=str(taken[0]),
        )
    order = DirectorOrder(
        id=uuid.uuid4(),
        tenant_id=school.tenant_id,
        school_id=school.id,
        kind=data["kind"],
        number=data["number"],
        issued_on=data["issued_on"],
        valid_from=data["valid_from"],
        valid_to=data["valid_to"],
        platform=data.get("platform"),
        confirmation_method=data.get("confirmation_method"),
        issued_by=uuid.UUID(principal.user_id),
        created_at=utcnow(),
    )
    order.students = [OrderStudent(plan_id=p.id, student_id=p.student_id) for p in plans]
    order.providers = [OrderProvider(provider_id=u.id, subject=subject) for u, subject in providers]
    session.add(order)
    session.flush()
    for plan in plans:
        record(
            session,
            plan,
            "order_registered",
            f"{order.id}:{plan.id}",
            f"Direktora rīkojums Nr. {order.number} par {KIND_LV[order.kind]} "
            f"({order.valid_from:%d.%m.%Y}–{order.valid_to:%d.%m.%Y})",
            f"Director's order No. {order.number} on {order.kind.replace('_', ' ')} "
            f"({order.valid_from} – {order.valid_to})",
            order_id=order.id,
            number=order.number,
            order_kind=order.kind,
        )
    audit(
        session,
        principal,
        "order.registered",
        "director_order",
        order.id,
        order.tenant_id,
        number=order.number,
        kind=order.kind,
        plans=len(plans),
        providers=len(providers),
    )
    tenant = session.get(TenantRM, school.tenant_id)
    if tenant is None:  # pragma: no cover - a school's tenant always arrives with the school
        raise NotFound("tenant")
    outbox.publish(
        session,
        "notifications.order_registered",
        {
            "order_id": str(order.id),
            "tenant_id": str(order.tenant_id),
            "school_id": str(order.school_id),
            "region": tenant.region,
            "kind": order.kind,
            "number": order.number,
            "issued_on": order.issued_on.isoformat(),
            "valid_from": order.valid_from.isoformat(),
            "valid_to": order.valid_to.isoformat(),
            "student_count": len(plans),
            "provider_count": len(providers),
        },
    )
    return describe(session, [order])[0]


def _plans_of_school(session: Session, school: SchoolRM, plan_ids: list[uuid.UUID]) -> list[Plan]:
    wanted = list(dict.fromkeys(plan_ids))
    found = {
        p.id: p
        for p in session.execute(select(Plan).where(Plan.id.in_(wanted)).options(selectinload(Plan.student))).scalars()
    }
    bad = {
        str(i): ["not a plan of this school"]
        for i, pid in enumerate(wanted)
        if pid not in found or found[pid].school_id != school.id or found[pid].status == workflow.INACTIVE
    }
    if bad:
        raise _invalid(
            "plan_not_of_school",
            "Every student of an order is named by an active plan of the order's school.",
            "Rīkojumā var iekļaut tikai šīs skolas izglītojamos ar aktīvu plānu.",
            {"plan_ids": bad},
        )
    return [found[pid] for pid in wanted]


def _providers_of_school(session: Session, school: SchoolRM, wanted: list[dict[str, Any]]) -> list[tuple[UserRM, str]]:
    ids = [p["provider_id"] for p in wanted]
    users = {u.id: u for u in session.execute(select(UserRM).where(UserRM.id.in_(ids))).scalars()}
    bad: dict[str, Any] = {}
    for i, p in enumerate(wanted):
        if not is_support_provider(users.get(p["provider_id"]), school.tenant_id, school.id):
            bad[str(i)] = {"provider_id": ["not a support provider of the school"]}
        elif p["provider_id"] in ids[:i]:
            bad[str(i)] = {"provider_id": ["listed twice"]}
    if bad:
        raise _invalid(
            "provider_not_support_provider",
            "Every provider of an order is an active support provider of the order's school, listed once.",
            "Rīkojumā var iekļaut tikai šīs skolas aktīvus atbalsta sniedzējus, katru vienreiz.",
            {"providers": bad},
        )
    return [(users[p["provider_id"]], p["subject"]) for p in wanted]


def orders_query(principal: Principal, f: dict[str, Any]) -> Select[Any]:
    query = select(DirectorOrder).where(read_scope(principal, DirectorOrder.tenant_id, DirectorOrder.school_id))
    for key in ("school_id", "kind", "tenant_id"):
        if f.get(key):
            query = query.where(getattr(DirectorOrder, key) == f[key])
    if f.get("covers"):
        query = query.where(DirectorOrder.valid_from <= f["covers"], DirectorOrder.valid_to >= f["covers"])
    return query.order_by(DirectorOrder.issued_on.desc(), DirectorOrder.created_at.desc(), DirectorOrder.id)


def list_orders(session: Session, principal: Principal, f: dict[str, Any]) -> dict[str, Any]:
    page = paginate(session, orders_query(principal, f), f["page"], f["page_size"])
    page["items"] = describe(session, page["items"])
    return page


def get_order(session: Session, principal: Principal, order_id: uuid.UUID) -> dict[str, Any]:
    order = ensure_readable(session, principal, session.get(DirectorOrder, order_id), "order")
    return describe(session, [order])[0]


def describe(session: Session, orders: list[DirectorOrder]) -> list[dict[str, Any]]:
    """Orders as the form shows them: students with name, class and plan code; providers with names."""
    ids = [o.id for o in orders]
    students: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for os_, plan, student in session.execute(
        select(OrderStudent, Plan, Student)
        .join(Plan, Plan.id == OrderStudent.plan_id)
        .join(Student, Student.id == OrderStudent.student_id)
        .where(OrderStudent.order_id.in_(ids))
        .order_by(Student.last_name, Student.first_name, Plan.code)
    ).all():
        students[os_.order_id].append(
            {
                "plan_id": plan.id,
                "plan_code": plan.code,
                "student_id": student.id,
                "first_name": student.first_name,
                "last_name": student.last_name,
                "grade": student.grade,
                "course": student.course,
            }
        )
    providers: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for op, user in session.execute(
        select(OrderProvider, UserRM)
        .outerjoin(UserRM, UserRM.id == OrderProvider.provider_id)
        .where(OrderProvider.order_id.in_(ids))
        .order_by(UserRM.full_name)
    ).all():
        providers[op.order_id].append(
            {"provider_id": op.provider_id, "full_name": user.full_name if user else None, "subject": op.subject}
        )
    return [
        {
            "id": o.id,
            "tenant_id": o.tenant_id,
            "school_id": o.school_id,
            "kind": o.kind,
            "number": o.number,
            "issued_on": o.issued_on,
            "valid_from": o.valid_from,
            "valid_to": o.valid_to,
            "platform": o.platform,
            "confirmation_method": o.confirmation_method,
            "issued_by": o.issued_by,
            "created_at": o.created_at,
            "students": students[o.id],
            "providers": providers[o.id],
        }
        for o in orders
    ]
