"""The rules about money: the amount within the plan and the caps, no double funding in any tenant (by the
file's SHA-256 and the student's keyed hash only), and the tenant's semester budget."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .facts import (
    BLOCK,
    NO_PLAN,
    NOT_APPLICABLE,
    PASS,
    REJECTED,
    WARN,
    Context,
    eur_en,
    eur_lv,
    is_compensation,
    month_end,
    month_label,
    rule,
)
from .programme import money


@rule("amount.within_plan", 1)
def amount_within_plan(ctx: Context) -> tuple[Any, ...]:
    """Together with what is already accepted, the amount stays within what the plan planned."""
    c, p, s = ctx.claim, ctx.plan, ctx.sums
    if p is None:
        return NO_PLAN
    if not is_compensation(c.category):
        ev = {"amount": str(c.amount), "owed_this_month": str(s.owed_this_month)}
        if c.amount > s.owed_this_month:
            return (
                BLOCK,
                f"Pieprasīti {eur_lv(c.amount)}, bet šī mēneša sniegtais atbalsts ir {eur_lv(s.owed_this_month)}. "
                "Salīdziniet ar KA veidlapu.",
                f"{eur_en(c.amount)} is claimed, but what was delivered this month comes to "
                f"{eur_en(s.owed_this_month)}. Compare with the KA form.",
                ev,
            )
        return (
            PASS,
            f"Summa atbilst šī mēneša sniegtajam atbalstam ({eur_lv(s.owed_this_month)}).",
            f"The amount matches what was delivered this month ({eur_en(s.owed_this_month)}).",
            ev,
        )
    planned = p.planned_for(c.category)
    if planned <= 0:
        return (NOT_APPLICABLE, "Kategorija nav plānota.", "The category is not planned.", {})
    after = s.plan_category_accepted + c.amount
    ev = {"planned": str(planned), "accepted_before": str(s.plan_category_accepted), "amount": str(c.amount)}
    if after > planned:
        return (
            BLOCK,
            f"Kopā ar jau apstiprinātiem {eur_lv(s.plan_category_accepted)} summa {eur_lv(c.amount)} pārsniedz "
            f"plānoto {eur_lv(planned)} par {eur_lv(after - planned)}. Labojiet summu.",
            f"Together with {eur_en(s.plan_category_accepted)} already accepted, {eur_en(c.amount)} exceeds the "
            f"planned {eur_en(planned)} by {eur_en(after - planned)}. Correct the amount.",
            ev,
        )
    return (
        PASS,
        f"Kopā {eur_lv(after)} no plānotajiem {eur_lv(planned)}.",
        f"{eur_en(after)} in all of the planned {eur_en(planned)}.",
        ev,
    )


@rule("amount.within_caps", 1)
def amount_within_caps(ctx: Context) -> tuple[Any, ...]:
    """The amount stays within the category's caps per day, month and semester of the programme settings."""
    c, p, s, prog = ctx.claim, ctx.plan, ctx.sums, ctx.programme
    if not is_compensation(c.category):
        return (NOT_APPLICABLE, "Limiti attiecas tikai uz kompensācijām.", "Caps apply to compensations only.", {})
    caps = prog.caps(c.category)
    ev: dict[str, Any] = {
        "settings_revision": prog.revision,
        "example_values": prog.example_values,
        **{k: (str(v) if v is not None else None) for k, v in caps.items()},
    }
    checks: list[tuple[Decimal, Decimal, str, str]] = []
    if caps["per_day"] is not None:
        start, end = c.month, month_end(c.month)
        if p is not None:
            start, end = max(start, p.semester_start), min(end, p.semester_end)
        days = max((end - start).days + 1, 0)
        limit = money(caps["per_day"] * days)
        ev["days"] = days
        checks.append(
            (
                c.amount + s.plan_category_month_accepted,
                limit,
                f"{eur_lv(caps['per_day'])} dienā × {days} dienas = {eur_lv(limit)}",
                f"{eur_en(caps['per_day'])} a day × {days} days = {eur_en(limit)}",
            )
        )
    if caps["per_month"] is not None:
        checks.append(
            (
                c.amount + s.plan_category_month_accepted,
                caps["per_month"],
                f"{eur_lv(caps['per_month'])} mēnesī",
                f"{eur_en(caps['per_month'])} a month",
            )
        )
    if caps["per_semester"] is not None:
        checks.append(
            (
                c.amount + s.plan_category_accepted,
                caps["per_semester"],
                f"{eur_lv(caps['per_semester'])} semestrī",
                f"{eur_en(caps['per_semester'])} a semester",
            )
        )
    for total, limit, lv, en in checks:
        if total > limit:
            ev.update(total=str(total), limit=str(limit))
            return (
                BLOCK,
                f"Summa {eur_lv(total)} pārsniedz kategorijas “{c.category}” limitu {lv} (programmas iestatījumu "
                f"redakcija {prog.revision}). Samaziniet summu līdz limitam.",
                f"{eur_en(total)} exceeds the cap for '{c.category}' of {en} (programme settings revision "
                f"{prog.revision}). Reduce the amount to the cap.",
                ev,
            )
    if not checks:
        return (PASS, "Šai kategorijai limita nav.", "This category has no cap.", ev)
    return (
        PASS,
        "Summa nepārsniedz limitu: " + "; ".join(x[2] for x in checks) + ".",
        "The amount is within the cap: " + "; ".join(x[3] for x in checks) + ".",
        ev,
    )


@rule("double_funding.same_document", 1)
def same_document(ctx: Context) -> tuple[Any, ...]:
    """The same file (by SHA-256) is not claimed by another document, in this or any other tenant."""
    m = ctx.matches
    ev: dict[str, Any] = {"sha256": ctx.claim.sha256}
    if m.same_bytes_here:
        ev["documents"] = list(m.same_bytes_here)
        return (
            BLOCK,
            f"Tā pati datne jau iesniegta kā dokuments {m.same_bytes_here[0]}. Vienu izdevumu apmaksā tikai vienreiz.",
            f"The same file was already submitted as document {m.same_bytes_here[0]}. An expense is paid once.",
            ev,
            REJECTED,
        )
    if m.same_bytes_elsewhere:
        ev["other_institution"] = True
        return (
            BLOCK,
            "Tā pati datne jau iesniegta citā iestādē. Vienu izdevumu apmaksā tikai vienreiz.",
            "The same file was already submitted by another institution. An expense is paid once.",
            ev,
            REJECTED,
        )
    return (PASS, "Neviens cits pieprasījums neizmanto šo datni.", "No other claim uses this file.", ev)


@rule("double_funding.same_student_month", 1)
def same_student_month(ctx: Context) -> tuple[Any, ...]:
    """The student, category and month are not already claimed, in this or any other tenant (keyed hash only)."""
    c, m = ctx.claim, ctx.matches
    if c.student_key is None:
        return NO_PLAN
    ev: dict[str, Any] = {"category": c.category, "month": month_label(c.month)}
    if m.same_month_here:
        ev["documents"] = list(m.same_month_here)
        return (
            BLOCK,
            f"Kategorija “{c.category}” par {month_label(c.month)} šim izglītojamajam jau pieprasīta ar dokumentu "
            f"{m.same_month_here[0]}.",
            f"The category '{c.category}' for {month_label(c.month)} is already claimed for this student with "
            f"document {m.same_month_here[0]}.",
            ev,
            REJECTED,
        )
    if m.same_month_elsewhere:
        ev["other_institution"] = True
        return (
            BLOCK,
            f"Kategorija “{c.category}” par {month_label(c.month)} šim izglītojamajam jau pieprasīta citā iestādē "
            "(salīdzināts pēc aizsargāta identifikatora; personas dati netiek atklāti).",
            f"The category '{c.category}' for {month_label(c.month)} is already claimed for this student by another "
            "institution (matched on a protected identifier; no personal data is disclosed).",
            ev,
            REJECTED,
        )
    return (
        PASS,
        "Šis mēnesis un kategorija šim izglītojamajam vēl nav pieprasīti.",
        "This month and category are not yet claimed for this student.",
        ev,
    )


@rule("budget.tenant_semester", 1)
def tenant_budget(ctx: Context) -> tuple[Any, ...]:
    """The tenant's budget for the semester is not exceeded (a warning past the configured share)."""
    c, p, s = ctx.claim, ctx.plan, ctx.sums
    if p is None or s.tenant_budget is None:
        return NO_PLAN
    if not is_compensation(c.category):
        return (
            NOT_APPLICABLE,
            "Konsultācijas un sagatavošana budžetā tiek ieskaitītas, kad tās sniegtas.",
            "Consultations and preparation count against the budget when delivered.",
            {},
        )
    after = s.tenant_used + c.amount
    budget = s.tenant_budget
    ev = {"semester": p.semester, "budget": str(budget), "used_before": str(s.tenant_used), "amount": str(c.amount)}
    if after > budget:
        return (
            BLOCK,
            f"Iestādes semestra {p.semester} budžets {eur_lv(budget)} tiktu pārsniegts: izlietoti "
            f"{eur_lv(s.tenant_used)}, pieprasīti {eur_lv(c.amount)}.",
            f"The institution's budget for semester {p.semester}, {eur_en(budget)}, would be exceeded: "
            f"{eur_en(s.tenant_used)} used, {eur_en(c.amount)} claimed.",
            ev,
            REJECTED,
        )
    if after > money(budget * ctx.programme.warn_share):
        return (
            WARN,
            f"Pēc šī pieprasījuma izlietoti {eur_lv(after)} no semestra budžeta {eur_lv(budget)}.",
            f"After this claim {eur_en(after)} of the semester budget {eur_en(budget)} is used.",
            ev,
        )
    return (
        PASS,
        f"Semestra budžetā pietiek līdzekļu ({eur_lv(after)} no {eur_lv(budget)}).",
        f"The semester budget holds it ({eur_en(after)} of {eur_en(budget)}).",
        ev,
    )
