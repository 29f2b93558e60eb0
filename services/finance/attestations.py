"""Attestations: the municipality (or its social service) does not fund these costs of the student.

Each records the student, the issuer, the semester it covers, the date obtained, and is replaced by a newer
one for the same student and semester. Recording one re-checks the student's claims that were waiting.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.db import utcnow
from services.common.messaging import Outbox

from . import checks, programme
from .ledger import serialise
from .models import ACCEPTED, Attestation, Claim, PlanRM, SchoolRM
from .rules import BLOCK, PASS, WARN, day_lv

log = structlog.get_logger(__name__)
RULE = "attestation.recorded"


def register(session: Session, outbox: Outbox, p: dict[str, Any]) -> Attestation | None:
    """Record an attestation version, apply replacement, answer documents, and re-check waiting claims."""
    serialise(session, f"document:{p['document_id']}", f"student:{p['tenant_id']}:{p['student_id']}")
    if session.execute(
        select(Attestation.id).where(Attestation.document_id == p["document_id"], Attestation.version >= p["version"])
    ).first():
        log.info("attestation_already_recorded", document_id=str(p["document_id"]))
        return None
    school = session.get(SchoolRM, p["school_id"]) if p.get("school_id") else None
    prog = programme.in_force(session, p["valid_from"])
    semester = prog.semester_on(p["valid_from"], school.kind if school else "general")
    att = Attestation(
        id=uuid.uuid4(),
        document_id=p["document_id"],
        version=p["version"],
        tenant_id=p["tenant_id"],
        school_id=p.get("school_id"),
        student_id=p["student_id"],
        plan_id=p.get("plan_id"),
        issuer=p.get("issuer"),
        issued_on=p["issued_on"],
        valid_from=p["valid_from"],
        valid_to=p["valid_to"],
        semester=semester["code"] if semester else None,
        categories=list(p["categories"]),
        sha256=p["sha256"],
        registered_at=utcnow(),
    )
    session.add(att)
    session.flush()
    audit.record(
        session,
        None,
        "attestation.registered",
        "attestation",
        att.id,
        tenant_id=att.tenant_id,
        document_id=att.document_id,
        version=att.version,
        semester=att.semester,
        categories=att.categories,
    )
    _replace(session, att)
    _answer(session, outbox, att, semester)
    waiting = list(
        session.execute(
            select(Claim).where(
                Claim.tenant_id == att.tenant_id,
                Claim.student_id == att.student_id,
                Claim.superseded.is_(False),
                Claim.status != ACCEPTED,
            )
        ).scalars()
    )
    if waiting:
        checks.recheck(
            session,
            outbox,
            waiting,
            "attestation",
            reason=(
                f"Saņemta izziņa (izdota {day_lv(att.issued_on)}).",
                f"An attestation arrived (dated {day_lv(att.issued_on)}).",
            ),
        )
    return att


def _replace(session: Session, att: Attestation) -> None:
    """Older versions of the document, and older attestations of the student for the same semester, give way."""
    others = session.execute(
        select(Attestation).where(
            Attestation.tenant_id == att.tenant_id,
            Attestation.student_id == att.student_id,
            Attestation.id != att.id,
            Attestation.replaced_by.is_(None),
        )
    ).scalars()
    for other in others:
        same_document = other.document_id == att.document_id
        same_semester = att.semester is not None and other.semester == att.semester
        if not (same_document or same_semester):
            continue
        if same_document or other.issued_on <= att.issued_on:
            other.replaced_by = att.id
        else:
            att.replaced_by = other.id  # an older one arrived late: the newer one stands


def _answer(session: Session, outbox: Outbox, att: Attestation, semester: dict[str, Any] | None) -> None:
    plan = session.get(PlanRM, att.plan_id) if att.plan_id else None
    period = f"{day_lv(att.valid_from)}–{day_lv(att.valid_to)}"
    if plan is not None and att.issued_on >= plan.prepared_on:
        outcome, status = BLOCK, "needs_fix"
        lv = (
            f"Izziņa izdota {day_lv(att.issued_on)}, ne pirms plāna {plan.code} sagatavošanas "
            f"({day_lv(plan.prepared_on)})."
        )
        en = (
            f"The attestation is dated {day_lv(att.issued_on)}, not before plan {plan.code} was prepared "
            f"({day_lv(plan.prepared_on)})."
        )
    elif semester is None:
        outcome, status = WARN, ACCEPTED
        lv = f"Izziņa ({period}) ierakstīta, bet tās sākums nav neviena iestatījumos zināma semestra laikā."
        en = f"The attestation ({period}) is recorded, but it does not start inside any semester of the settings."
    else:
        outcome, status = PASS, ACCEPTED
        lv = f"Izziņa ierakstīta: semestris {semester['code']}, {period}, kategorijas: {', '.join(att.categories)}."
        en = f"Attestation recorded: semester {semester['code']}, {period}, categories: {', '.join(att.categories)}."
    if att.replaced_by is not None:
        outcome = WARN
        lv += " Jaunāka izziņa par to pašu semestri to aizstāj."
        en += " A newer attestation for the same semester replaces it."
    outbox.publish(
        session,
        "documents.set_review_status",
        {
            "document_id": str(att.document_id),
            "version": att.version,
            "tenant_id": str(att.tenant_id),
            "status": status,
            "reasons": [
                {"rule_id": RULE, "rule_version": 1, "outcome": outcome, "explanation_lv": lv, "explanation_en": en}
            ],
            "decided_at": utcnow().isoformat(),
        },
    )
