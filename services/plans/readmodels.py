"""Keep plans' copies of other services' facts: tenants, users, programme settings, payments, events."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.errors import ApiError
from services.common.readmodel import newer_row

from .models import Plan, ProgrammeSettingsRM, SchoolRM, TenantRM, TimelineEvent, UserRM


def sync_tenant(session: Session, p: dict[str, Any]) -> None:
    """Replace a tenant and its schools, unless we already hold a newer revision."""
    current = newer_row(session, TenantRM, p["tenant_id"], p["revision"])
    if current is None:
        return
    current.kind, current.name, current.region, current.active = p["kind"], p["name"], p["region"], p["active"]
    for s in p["schools"]:
        school = session.get(SchoolRM, s["school_id"]) or SchoolRM(id=s["school_id"])
        school.tenant_id, school.name, school.kind, school.active = p["tenant_id"], s["name"], s["kind"], s["active"]
        session.add(school)


def sync_user(session: Session, p: dict[str, Any]) -> None:
    current = newer_row(session, UserRM, p["user_id"], p["revision"])
    if current is None:
        return
    current.tenant_id, current.full_name, current.active = p["tenant_id"], p["full_name"], p["active"]
    current.roles = [{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in grant.items()} for grant in p["roles"]]


def sync_programme_settings(session: Session, p: dict[str, Any]) -> None:
    data = {
        "effective_from": p["effective_from"].isoformat(),
        "consultation_rates": {k: str(v) for k, v in p["consultation_rates"].items()},
        "preparation_rate": str(p["preparation_rate"]),
        "preparation_hours_cap": str(p["preparation_hours_cap"]),
        "compensation_categories": list(p["compensation_categories"]),
        "semesters": [
            {
                **s,
                "starts_on": s["starts_on"].isoformat(),
                "ends_on": s["ends_on"].isoformat(),
                "tenant_id": str(s["tenant_id"]) if s.get("tenant_id") else None,
            }
            for s in p["semesters"]
        ],
        "example_values": p["example_values"],
    }
    session.execute(pg_insert(ProgrammeSettingsRM).values(revision=p["revision"], data=data).on_conflict_do_nothing())
    # keep a short history; the newest revision is the one in force for new work
    old = select(ProgrammeSettingsRM.revision).order_by(ProgrammeSettingsRM.revision.desc()).offset(20)
    session.execute(delete(ProgrammeSettingsRM).where(ProgrammeSettingsRM.revision.in_(old)))


def plan_paid(session: Session, p: dict[str, Any]) -> None:
    plan = session.get(Plan, p["plan_id"], with_for_update=True)
    if plan is None or plan.paid_revision >= p["revision"]:
        return
    plan.paid_so_far, plan.paid_revision = Decimal(p["paid_so_far"]), p["revision"]


def record_student_event(session: Session, p: dict[str, Any]) -> None:
    session.execute(
        pg_insert(TimelineEvent)
        .values(
            tenant_id=p["tenant_id"],
            student_id=p["student_id"],
            plan_id=p.get("plan_id"),
            at=p["at"],
            source=p["source"],
            source_key=p["key"],
            kind=p["kind"],
            summary_lv=p["summary_lv"],
            summary_en=p["summary_en"],
            details=p.get("details") or {},
        )
        .on_conflict_do_nothing(constraint="uq_timeline_source_key")
    )


# ---- reading the programme settings -------------------------------------------------------------


class ProgrammeSettings:
    """The newest programme settings plans has received, with helpers for the rules."""

    def __init__(self, revision: int, data: dict[str, Any]) -> None:
        self.revision = revision
        self.data = data

    @property
    def rates(self) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in self.data["consultation_rates"].items()}

    @property
    def preparation_rate(self) -> Decimal:
        return Decimal(self.data["preparation_rate"])

    @property
    def preparation_cap(self) -> Decimal:
        return Decimal(self.data["preparation_hours_cap"])

    @property
    def compensation_categories(self) -> list[str]:
        return list(self.data["compensation_categories"])

    def semester(self, code: str, tenant_id: uuid.UUID, school_kind: str) -> dict[str, Any] | None:
        for s in self.data["semesters"]:
            if s["code"] != code:
                continue
            if s.get("tenant_id") and s["tenant_id"] != str(tenant_id):
                continue
            if s["school_type"] != school_kind:
                continue
            return {**s, "starts_on": date.fromisoformat(s["starts_on"]), "ends_on": date.fromisoformat(s["ends_on"])}
        return None


def current_settings(session: Session) -> ProgrammeSettings:
    row = session.execute(
        select(ProgrammeSettingsRM).order_by(ProgrammeSettingsRM.revision.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise ApiError(
            409,
            "programme_settings_unknown",
            "Plans has not yet received the programme settings (rates, semesters) from finance.",
            detail_lv="Plāni vēl nav saņēmuši programmas iestatījumus (likmes, semestrus) no finansēm.",
        )
    return ProgrammeSettings(row.revision, row.data)
