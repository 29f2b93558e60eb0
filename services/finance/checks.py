"""Claims from expense documents, and each run of the rules on them: gather the facts, run, record one result
per rule and what changed since the run before, then send the verdict to documents, notifications and the
student's timeline. A check message delivered again finds its claims and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.db import utcnow
from services.common.messaging import Outbox

from . import budgets, ledger, programme, rules
from .models import ACCEPTED, Attestation, CheckResult, CheckRun, Claim, Override, PlanRM

log = structlog.get_logger(__name__)

VERDICT_LV = {ACCEPTED: "apstiprināts", "needs_fix": "jālabo", "rejected": "noraidīts"}
VERDICT_EN = {ACCEPTED: "accepted", "needs_fix": "needs fixing", "rejected": "rejected"}


# ---- claims from a document ---------------------------------------------------------------------


def receive_expense(session: Session, outbox: Outbox, p: dict[str, Any]) -> list[Claim]:
    """Turn one checked version of an expense document into claims, check them, send the verdict."""
    doc_id, version = p["document_id"], p["version"]
    ledger.serialise(session, f"document:{doc_id}")
    known = session.execute(select(Claim).where(Claim.document_id == doc_id).with_for_update()).scalars().all()
    if any(c.version >= version for c in known):
        log.info("expense_already_received", document_id=str(doc_id), version=version)
        return []  # delivered again, or an older version arriving late: nothing changes
    for old in known:  # a new version replaces the old one's claims everywhere
        old.superseded = True
    lines = p.get("lines") or [{"category": p["category"], "month": p["month"], "amount": p["amount"]}]
    key = student_key(session, p["student_id"])
    claims = []
    for n, line in enumerate(lines, start=1):
        claim = Claim(
            id=uuid.uuid4(),
            document_id=doc_id,
            version=version,
            line=n,
            tenant_id=p["tenant_id"],
            school_id=p.get("school_id"),
            plan_id=p["plan_id"],
            student_id=p["student_id"],
            student_key=key,
            kind=p["kind"],
            category=line["category"],
            month=line["month"].replace(day=1),
            amount=programme.money(line["amount"]),
            sha256=p["sha256"],
            duplicate_in_tenant=p["duplicate_in_tenant"],
            uploaded_by=p["uploaded_by"],
            uploaded_at=p["uploaded_at"],
            runs=0,
        )
        session.add(claim)
        claims.append(claim)
    session.flush()
    for claim in claims:
        run(session, claim, "document")
    send_verdict(session, outbox, doc_id, version)
    for plan_id in {c.plan_id for c in claims} | {c.plan_id for c in known}:
        budgets.money_changed(session, outbox, plan_id)
    outbox.publish(
        session,
        "notifications.expense_package_received",
        {"tenant_id": str(p["tenant_id"]), "school_id": p.get("school_id"), "month": claims[0].month.isoformat()},
    )
    return claims


def student_key(session: Session, student_id: uuid.UUID) -> str | None:
    """The student's keyed hash, from any plan of theirs plans has sent."""
    return session.execute(
        select(PlanRM.student_key).where(PlanRM.student_id == student_id).limit(1)
    ).scalar_one_or_none()


# ---- one run of the rules -----------------------------------------------------------------------


def context(session: Session, claim: Claim) -> rules.Context:
    plan = session.get(PlanRM, claim.plan_id)
    if claim.student_key is None and plan is not None and plan.student_id == claim.student_id:
        claim.student_key = plan.student_key
    prog = programme.in_force(session, claim.month)
    attestations = session.execute(
        select(Attestation).where(
            Attestation.tenant_id == claim.tenant_id,
            Attestation.student_id == claim.student_id,
            Attestation.replaced_by.is_(None),
        )
    ).scalars()
    return rules.Context(
        claim=rules.ClaimFacts(
            document_id=claim.document_id,
            tenant_id=claim.tenant_id,
            student_id=claim.student_id,
            plan_id=claim.plan_id,
            category=claim.category,
            month=claim.month,
            amount=claim.amount,
            sha256=claim.sha256,
            student_key=claim.student_key,
        ),
        plan=plan_facts(plan),
        programme=prog,
        attestations=tuple(
            rules.AttestationFacts(a.document_id, a.issued_on, a.valid_from, a.valid_to, tuple(a.categories), a.issuer)
            for a in attestations
        ),
        matches=ledger.matches(session, claim),
        sums=ledger.sums(session, claim, plan, prog),
    )


def plan_facts(plan: PlanRM | None) -> rules.PlanFacts | None:
    if plan is None:
        return None
    return rules.PlanFacts(
        plan_id=plan.id,
        tenant_id=plan.tenant_id,
        student_id=plan.student_id,
        code=plan.code,
        status=plan.status,
        semester=plan.semester,
        semester_start=plan.semester_start,
        semester_end=plan.semester_end,
        prepared_on=plan.prepared_on,
        preparation_hours=plan.preparation_hours,
        measures=tuple(plan.measures or ()),
    )


def overridden_rules(session: Session, claim: Claim) -> frozenset[str]:
    rows = session.execute(
        select(Override.rules).where(Override.claim_id == claim.id, Override.state == "confirmed")
    ).scalars()
    return frozenset(r for rules_ in rows for r in rules_)


def current_results(session: Session, claim: Claim) -> list[CheckResult]:
    return list(
        session.execute(
            select(CheckResult)
            .where(CheckResult.claim_id == claim.id, CheckResult.run == claim.runs)
            .order_by(CheckResult.position)
        ).scalars()
    )


def run(
    session: Session,
    claim: Claim,
    trigger: str,
    *,
    reason: tuple[str, str] = ("", ""),
    settings_changes: list[dict[str, Any]] | None = None,
) -> bool:
    """Run every rule on a claim and record the run; True when the verdict or an outcome moved."""
    ledger.lock(session, claim)
    ctx = context(session, claim)
    results = rules.run_all(ctx)
    overridden = overridden_rules(session, claim)
    verdict = rules.verdict(results, overridden)
    before = {r.rule_id: r.outcome for r in current_results(session, claim)} if claim.runs else {}
    moved = [
        {"rule_id": r.rule_id, "from": before.get(r.rule_id), "to": r.outcome}
        for r in results
        if claim.runs and before.get(r.rule_id) != r.outcome
    ]
    previous = claim.status if claim.runs else None
    claim.runs += 1
    session.add(
        CheckRun(
            claim_id=claim.id,
            number=claim.runs,
            trigger=trigger,
            settings_revision=ctx.programme.revision,
            verdict=verdict,
            previous_verdict=previous,
            changes=[*(settings_changes or []), *moved],
            reason_lv=reason[0],
            reason_en=reason[1],
            at=utcnow(),
        )
    )
    for i, r in enumerate(results):
        session.add(
            CheckResult(
                claim_id=claim.id,
                run=claim.runs,
                position=i,
                rule_id=r.rule_id,
                rule_version=r.rule_version,
                outcome=r.outcome,
                blocks_as=r.blocks_as,
                overridden=r.outcome == rules.BLOCK and r.rule_id in overridden,
                explanation_lv=r.explanation_lv,
                explanation_en=r.explanation_en,
                evidence=r.evidence,
            )
        )
    claim.status, claim.settings_revision, claim.checked_at = verdict, ctx.programme.revision, utcnow()
    audit.record(
        session,
        None,
        "claim.checked",
        "claim",
        claim.id,
        tenant_id=claim.tenant_id,
        run=claim.runs,
        trigger=trigger,
        verdict=verdict,
        previous_verdict=previous,
        settings_revision=ctx.programme.revision,
        moved=[m["rule_id"] for m in moved],
    )
    session.flush()
    log.info("claim_checked", claim_id=str(claim.id), run=claim.runs, trigger=trigger, verdict=verdict)
    return previous is None or previous != verdict or bool(moved)


# ---- telling the others -------------------------------------------------------------------------


def send_verdict(session: Session, outbox: Outbox, document_id: uuid.UUID, version: int) -> str:
    """The document's verdict (the worst of its claims') with every rule's reason, to documents; a verdict
    someone must act on to notifications; each claim's run to the student's timeline."""
    claims = list(
        session.execute(
            select(Claim).where(Claim.document_id == document_id, Claim.version == version).order_by(Claim.line)
        ).scalars()
    )
    if not claims:
        return ""
    first = claims[0]
    verdict = rules.worst([c.status for c in claims])
    now = utcnow()
    reasons, blocking = [], []
    for claim in claims:
        prefix = ("", "") if len(claims) == 1 else (f"Rinda {claim.line}: ", f"Line {claim.line}: ")
        for r in current_results(session, claim):
            outcome = r.outcome
            reasons.append(
                {
                    "rule_id": r.rule_id,
                    "rule_version": r.rule_version,
                    "outcome": outcome,
                    "explanation_lv": (prefix[0] + r.explanation_lv)[:2000],
                    "explanation_en": (prefix[1] + r.explanation_en)[:2000],
                }
            )
            if outcome == rules.BLOCK and not r.overridden:
                blocking.append(
                    {
                        "rule_id": r.rule_id,
                        "text_lv": (prefix[0] + r.explanation_lv)[:500],
                        "text_en": (prefix[1] + r.explanation_en)[:500],
                    }
                )
        _timeline(session, outbox, claim)
    outbox.publish(
        session,
        "documents.set_review_status",
        {
            "document_id": str(document_id),
            "version": version,
            "tenant_id": str(first.tenant_id),
            "status": verdict,
            "reasons": reasons,
            "decided_at": now.isoformat(),
        },
    )
    if verdict != ACCEPTED:
        outbox.publish(
            session,
            "notifications.document_verdict",
            {
                "document_id": str(document_id),
                "version": version,
                "tenant_id": str(first.tenant_id),
                "school_id": str(first.school_id) if first.school_id else None,
                "plan_id": str(first.plan_id),
                "uploaded_by": str(first.uploaded_by),
                "status": verdict,
                "reasons": blocking,
                "decided_at": now.isoformat(),
            },
        )
    return verdict


def _timeline(session: Session, outbox: Outbox, claim: Claim) -> None:
    lv, en = VERDICT_LV.get(claim.status, claim.status), VERDICT_EN.get(claim.status, claim.status)
    month = claim.month.strftime("%Y-%m")
    outbox.publish(
        session,
        "plans.record_student_event",
        {
            "tenant_id": str(claim.tenant_id),
            "student_id": str(claim.student_id),
            "plan_id": str(claim.plan_id),
            "at": utcnow().isoformat(),
            "source": "finance",
            "key": f"claim:{claim.id}:run:{claim.runs}",
            "kind": "expense_checked",
            "summary_lv": f"Izdevumi “{claim.category}” par {month} ({claim.amount} EUR): {lv}",
            "summary_en": f"Expense '{claim.category}' for {month} ({claim.amount} EUR): {en}",
            "details": {"document_id": str(claim.document_id), "claim_id": str(claim.id), "verdict": claim.status},
        },
    )


def recheck(
    session: Session,
    outbox: Outbox,
    claims: list[Claim],
    trigger: str,
    reason: tuple[str, str] = ("", ""),
    settings_changes: list[dict[str, Any]] | None = None,
) -> int:
    """Run the rules again on these claims; send a new verdict for each document whose result moved."""
    moved: set[tuple[uuid.UUID, int]] = set()
    for claim in claims:
        if run(session, claim, trigger, reason=reason, settings_changes=settings_changes):
            moved.add((claim.document_id, claim.version))
    for document_id, version in sorted(moved, key=lambda x: (str(x[0]), x[1])):
        send_verdict(session, outbox, document_id, version)
    for plan_id in {c.plan_id for c in claims}:
        budgets.money_changed(session, outbox, plan_id)
    return len(moved)
