"""What the rules read and write: the facts of a claim, its plan, attestations, ledger matches and sums; a
rule's result; the registry that names and versions each rule; and the verdict from the results."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from services.common.contracts.documents import COMPENSATION_CATEGORIES

from .programme import Programme, money

PASS, WARN, BLOCK, NOT_APPLICABLE = "pass", "warn", "block", "not_applicable"
NEEDS_FIX, REJECTED, ACCEPTED = "needs_fix", "rejected", "accepted"
IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class ClaimFacts:
    document_id: uuid.UUID
    tenant_id: uuid.UUID
    student_id: uuid.UUID
    plan_id: uuid.UUID
    category: str
    month: date
    amount: Decimal
    sha256: str
    student_key: str | None = None


@dataclass(frozen=True)
class PlanFacts:
    plan_id: uuid.UUID
    tenant_id: uuid.UUID
    student_id: uuid.UUID
    code: str
    status: str
    semester: str
    semester_start: date
    semester_end: date
    prepared_on: date
    preparation_hours: Decimal
    measures: tuple[dict[str, Any], ...] = ()

    def planned_for(self, category: str) -> Decimal:
        return sum(
            (
                money(m["planned_amount"])
                for m in self.measures
                if m.get("kind") == "compensation" and m.get("category") == category and m.get("planned_amount")
            ),
            Decimal("0.00"),
        )

    def has_consultations(self) -> bool:
        return any(m.get("kind") == "consultation" for m in self.measures)


@dataclass(frozen=True)
class AttestationFacts:
    document_id: uuid.UUID
    issued_on: date
    valid_from: date
    valid_to: date
    categories: tuple[str, ...]
    issuer: str | None = None


@dataclass(frozen=True)
class Matches:
    """Other claims of the same bytes or the same student, category and month (double funding)."""

    same_bytes_here: tuple[str, ...] = ()  # document ids in this tenant
    same_bytes_elsewhere: bool = False  # another tenant: never named
    same_month_here: tuple[str, ...] = ()
    same_month_elsewhere: bool = False


@dataclass(frozen=True)
class Sums:
    plan_category_accepted: Decimal = Decimal("0.00")  # other accepted claims of the plan and category
    plan_category_month_accepted: Decimal = Decimal("0.00")  # ... of the same month
    owed_this_month: Decimal = Decimal("0.00")  # hours delivered (or preparation) owed for the plan's month
    tenant_used: Decimal = Decimal("0.00")  # accepted and owed in the tenant's semester, without this claim
    tenant_budget: Decimal | None = None


@dataclass(frozen=True)
class Context:
    claim: ClaimFacts
    plan: PlanFacts | None
    programme: Programme
    attestations: tuple[AttestationFacts, ...] = ()
    matches: Matches = field(default_factory=Matches)
    sums: Sums = field(default_factory=Sums)


@dataclass(frozen=True)
class Result:
    rule_id: str
    rule_version: int
    outcome: str
    explanation_lv: str
    explanation_en: str
    evidence: dict[str, Any]
    blocks_as: str | None = None  # needs_fix | rejected, for a block


Rule = Callable[[Context], Result]
RULES: list[tuple[str, int, Rule]] = []


def rule(rule_id: str, version: int) -> Callable[[Callable[..., tuple[Any, ...]]], Rule]:
    """Register a rule; it returns (outcome, lv, en, evidence[, blocks_as]) and gets its id and version here."""

    def wrap(fn: Callable[..., tuple[Any, ...]]) -> Rule:
        def run(ctx: Context) -> Result:
            outcome, lv, en, evidence, *rest = fn(ctx)
            blocks_as = (rest[0] if rest else NEEDS_FIX) if outcome == BLOCK else None
            return Result(rule_id, version, outcome, lv, en, evidence, blocks_as)

        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        RULES.append((rule_id, version, run))
        return run

    return wrap


# ---- wording ------------------------------------------------------------------------------------


def eur_lv(d: Decimal) -> str:
    return f"{money(d):,.2f}".replace(",", " ").replace(".", ",") + " EUR"


def eur_en(d: Decimal) -> str:
    return f"{money(d):,.2f} EUR"


def day_lv(d: date) -> str:
    return d.strftime("%d.%m.%Y")


def month_label(d: date) -> str:
    return d.strftime("%Y-%m")


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def overlaps(a_start: date, a_end: date, b_start: date, b_end: date) -> bool:
    return a_start <= b_end and b_start <= a_end


NO_PLAN: tuple[Any, ...] = (
    NOT_APPLICABLE,
    "Nevar pārbaudīt, kamēr plāns nav zināms.",
    "Cannot be checked until the plan is known.",
    {},
)


def is_compensation(category: str) -> bool:
    return category in COMPENSATION_CATEGORIES


# ---- running them -------------------------------------------------------------------------------


def verdict(results: list[Result], overridden: frozenset[str] = frozenset()) -> str:
    """rejected if a block rejects, needs_fix if any other block stands, else accepted (warnings allowed)."""
    blocks = [r for r in results if r.outcome == BLOCK and r.rule_id not in overridden]
    if any(r.blocks_as == REJECTED for r in blocks):
        return REJECTED
    return NEEDS_FIX if blocks else ACCEPTED


SEVERITY = {ACCEPTED: 0, NEEDS_FIX: 1, REJECTED: 2}


def worst(verdicts: list[str]) -> str:
    """A document's verdict from its claims' verdicts."""
    return max(verdicts, key=lambda v: SEVERITY.get(v, 0)) if verdicts else ACCEPTED
