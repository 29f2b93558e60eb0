"""The rules about the plan: in progress with the month in its semester, the category planned, and an
attestation covering the student, semester and month (DOMAIN.md, "Money")."""

from __future__ import annotations

from typing import Any

from .facts import (
    BLOCK,
    IN_PROGRESS,
    NO_PLAN,
    NOT_APPLICABLE,
    PASS,
    Context,
    day_lv,
    is_compensation,
    month_end,
    month_label,
    overlaps,
    rule,
)


@rule("plan.in_progress_in_semester", 1)
def plan_in_progress(ctx: Context) -> tuple[Any, ...]:
    """The plan is in progress and the month claimed lies inside its semester."""
    c, p = ctx.claim, ctx.plan
    if p is None:
        return (
            BLOCK,
            "Dokumentā norādītais plāns finansēm nav zināms. Pārbaudiet plāna ID dokumenta datos.",
            "The plan named on the document is not known to finance. Check the plan ID in the document's details.",
            {"plan_id": str(c.plan_id)},
        )
    ev = {
        "plan_code": p.code,
        "status": p.status,
        "semester": p.semester,
        "semester_start": p.semester_start.isoformat(),
        "semester_end": p.semester_end.isoformat(),
        "month": month_label(c.month),
    }
    if p.tenant_id != c.tenant_id or p.student_id != c.student_id:
        return (
            BLOCK,
            f"Plāns {p.code} attiecas uz citu izglītojamo. Norādiet šī izglītojamā plānu.",
            f"Plan {p.code} belongs to another student. Name this student's plan on the document.",
            ev,
        )
    if p.status != IN_PROGRESS:
        return (
            BLOCK,
            f"Plāns {p.code} nav īstenošanā (statuss: {p.status}). Izdevumus apmaksā tikai plānam īstenošanā.",
            f"Plan {p.code} is not in progress (status: {p.status}). Expenses are paid only while a plan is in "
            "progress.",
            ev,
        )
    if not overlaps(c.month, month_end(c.month), p.semester_start, p.semester_end):
        return (
            BLOCK,
            f"Mēnesis {month_label(c.month)} nav plāna {p.code} semestrī ({day_lv(p.semester_start)}–"
            f"{day_lv(p.semester_end)}). Labojiet mēnesi.",
            f"The month {month_label(c.month)} is outside the semester of plan {p.code} "
            f"({day_lv(p.semester_start)}–{day_lv(p.semester_end)}). Correct the month.",
            ev,
        )
    return (
        PASS,
        f"Plāns {p.code} ir īstenošanā, un mēnesis {month_label(c.month)} ir tā semestrī.",
        f"Plan {p.code} is in progress and the month {month_label(c.month)} is inside its semester.",
        ev,
    )


@rule("category.planned", 1)
def category_planned(ctx: Context) -> tuple[Any, ...]:
    """The category claimed is a planned measure of the plan."""
    c, p = ctx.claim, ctx.plan
    if p is None:
        return NO_PLAN
    if c.category == "consultations":
        ok, planned = p.has_consultations(), None
    elif c.category == "plan_preparation":
        ok, planned = p.preparation_hours > 0, None
    else:
        planned = p.planned_for(c.category)
        ok = planned > 0
    ev = {"category": c.category, "planned_amount": str(planned) if planned is not None else None}
    if not ok:
        return (
            BLOCK,
            f"Kategorija “{c.category}” nav plāna {p.code} plānots pasākums. Labojiet kategoriju vai papildiniet "
            "plānu (pārskatīšana).",
            f"The category '{c.category}' is not a planned measure of plan {p.code}. Correct the category or add "
            "the measure to the plan (review).",
            ev,
        )
    return (
        PASS,
        f"Kategorija “{c.category}” ir plānā {p.code}.",
        f"The category '{c.category}' is planned in plan {p.code}.",
        ev,
    )


@rule("attestation.covers", 1)
def attestation_covers(ctx: Context) -> tuple[Any, ...]:
    """An attestation, obtained before the plan was prepared, covers the student, the semester and the month."""
    c, p = ctx.claim, ctx.plan
    if not is_compensation(c.category):
        return (
            NOT_APPLICABLE,
            "Izziņa vajadzīga tikai kompensācijām.",
            "An attestation is needed only for compensations.",
            {},
        )
    if p is None:
        return NO_PLAN
    start, end = c.month, month_end(c.month)
    in_period = [
        a
        for a in ctx.attestations
        if overlaps(a.valid_from, a.valid_to, start, end)
        and overlaps(a.valid_from, a.valid_to, p.semester_start, p.semester_end)
    ]
    covering = sorted((a for a in in_period if c.category in a.categories), key=lambda a: a.issued_on)
    ev: dict[str, Any] = {"attestations_on_file": len(ctx.attestations), "month": month_label(c.month)}
    if not ctx.attestations:
        return (
            BLOCK,
            "Šim izglītojamajam nav pašvaldības izziņas, ka tā nesedz šos izdevumus. Augšupielādējiet izziņu.",
            "No attestation from the municipality that it does not fund these costs is on file for this student. "
            "Upload the attestation.",
            ev,
        )
    if not in_period:
        spans = ", ".join(f"{day_lv(a.valid_from)}–{day_lv(a.valid_to)}" for a in ctx.attestations)
        return (
            BLOCK,
            f"Izziņa aptver {spans}, bet ne mēnesi {month_label(c.month)} plāna semestrī. Augšupielādējiet izziņu "
            "par šo semestri.",
            f"The attestation on file covers {spans}, not the month {month_label(c.month)} in the plan's semester. "
            "Upload an attestation for this semester.",
            ev,
        )
    if not covering:
        return (
            BLOCK,
            f"Izziņā nav minēta kategorija “{c.category}”. Augšupielādējiet izziņu, kas to aptver.",
            f"The attestation does not list the category '{c.category}'. Upload one that covers it.",
            ev,
        )
    best = covering[-1]
    ev.update(
        document_id=str(best.document_id),
        issued_on=best.issued_on.isoformat(),
        valid_from=best.valid_from.isoformat(),
        valid_to=best.valid_to.isoformat(),
        prepared_on=p.prepared_on.isoformat(),
    )
    if best.issued_on >= p.prepared_on:
        return (
            BLOCK,
            f"Izziņa izdota {day_lv(best.issued_on)}, nevis pirms plāna sagatavošanas ({day_lv(p.prepared_on)}). "
            "Izziņai jābūt saņemtai pirms plāna sagatavošanas.",
            f"The attestation is dated {day_lv(best.issued_on)}, not before the plan was prepared "
            f"({day_lv(p.prepared_on)}). It must be obtained before the plan is prepared.",
            ev,
        )
    issuer = best.issuer or "pašvaldības"
    return (
        PASS,
        f"{issuer} izziņa ({day_lv(best.issued_on)}) aptver izglītojamo, semestri un mēnesi {month_label(c.month)}.",
        f"The attestation of {best.issuer or 'the municipality'} ({day_lv(best.issued_on)}) covers the student, "
        f"the semester and the month {month_label(c.month)}.",
        ev,
    )
