"""Signed applications put on file: documents stores one for a plan and says so (`plans.register_application`);
plans checks that it fits the plan (its institution, school, student and status, the right signer), puts it on
file, and answers documents with the verdict, and the uploader too when it does not fit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.common import audit
from services.common.db import utcnow
from services.common.messaging import Outbox

from . import workflow
from .models import Plan
from .planning import eighteenth_birthday
from .timeline import record

ON_FILE = "application.on_file"


def register_application(session: Session, outbox: Outbox, p: dict[str, Any]) -> str:
    """Put a stored application on file, or say why not; returns `recorded`, `refused` or `stale`."""
    plan = session.get(Plan, p["plan_id"], with_for_update=True)
    if plan is not None and plan.tenant_id != p["tenant_id"]:
        plan = None  # another institution's plan is no plan of this one
    facts = workflow.ApplicationFacts(
        plan_status=plan.status if plan else None,
        plan_school_id=str(plan.school_id) if plan else None,
        plan_student_id=str(plan.student_id) if plan else None,
        student_is_minor=bool(plan and plan.prepared_on < eighteenth_birthday(plan.student.birth_date)),
        on_file_document=str(plan.application_document_id) if plan and plan.application_version else None,
        on_file_version=plan.application_version if plan else None,
        document_id=str(p["document_id"]),
        version=p["version"],
        school_id=str(p["school_id"]) if p.get("school_id") else None,
        student_id=str(p["student_id"]),
        signer=p["signer"],
    )
    try:
        if not workflow.application_fits(facts):
            return "stale"  # an older version of the application already on file
    except workflow.RuleBroken as exc:
        _refused(session, outbox, p, exc)
        return "refused"
    assert plan is not None
    plan.application_document_id, plan.application_version = p["document_id"], p["version"]
    plan.application_signer, plan.application_signed_on = p["signer"], p["signed_on"]
    record(
        session,
        plan,
        "application_on_file",
        f"{p['document_id']}:v{p['version']}",
        f"Plānam {plan.code} pievienots parakstīts iesniegums",
        f"Signed application on file for plan {plan.code}",
        document_id=p["document_id"],
        version=p["version"],
        signer=p["signer"],
    )
    audit.record(
        session,
        None,
        "plan.application_recorded",
        "plan",
        plan.id,
        tenant_id=plan.tenant_id,
        actor_id=p["uploaded_by"],
        document_id=p["document_id"],
        version=p["version"],
        signer=p["signer"],
    )
    _verdict(
        outbox,
        session,
        p,
        "accepted",
        ON_FILE,
        "pass",
        f"Iesniegums atbilst plānam {plan.code} un ir pievienots.",
        f"The application fits plan {plan.code} and is on file.",
    )
    return "recorded"


def _refused(session: Session, outbox: Outbox, p: dict[str, Any], exc: workflow.RuleBroken) -> None:
    rule = "application." + exc.code.removeprefix("application_")
    _verdict(outbox, session, p, "needs_fix", rule, "block", exc.lv, exc.en)
    outbox.publish(
        session,
        "notifications.document_verdict",
        {
            "document_id": str(p["document_id"]),
            "version": p["version"],
            "tenant_id": str(p["tenant_id"]),
            "school_id": str(p["school_id"]) if p.get("school_id") else None,
            "plan_id": str(p["plan_id"]),
            "uploaded_by": str(p["uploaded_by"]),
            "status": "needs_fix",
            "reasons": [{"rule_id": rule, "text_lv": exc.lv, "text_en": exc.en}],
            "decided_at": utcnow().isoformat(),
        },
    )
    audit.record(
        session,
        None,
        "plan.application_refused",
        "plan",
        p["plan_id"],
        tenant_id=p["tenant_id"],
        actor_id=p["uploaded_by"],
        document_id=p["document_id"],
        version=p["version"],
        rule=exc.code,
    )


def _verdict(
    outbox: Outbox, session: Session, p: dict[str, Any], status: str, rule: str, outcome: str, lv: str, en: str
) -> None:
    outbox.publish(
        session,
        "documents.set_review_status",
        {
            "document_id": str(p["document_id"]),
            "version": p["version"],
            "tenant_id": str(p["tenant_id"]),
            "status": status,
            "reasons": [
                {"rule_id": rule, "rule_version": 1, "outcome": outcome, "explanation_lv": lv, "explanation_en": en}
            ],
            "decided_at": utcnow().isoformat(),
            "source": "plans",
        },
    )
