"""The checks of a claim (DOMAIN.md, "Money"), as named, versioned, plain functions.

Each rule reads the facts it is given and returns one result: its id and version, an outcome (pass, warn,
block, or not_applicable), an explanation in Latvian and English that a coordinator can act on, and the
evidence it used. Nothing here touches a database; `checks.py` gathers the facts. The rules live in
`rules_plan.py` and `rules_money.py`, registered in the order they run.
"""

from __future__ import annotations

from . import rules_money, rules_plan  # noqa: F401  (each registers its rules)
from .facts import (
    ACCEPTED,
    BLOCK,
    NEEDS_FIX,
    NOT_APPLICABLE,
    PASS,
    REJECTED,
    RULES,
    WARN,
    AttestationFacts,
    ClaimFacts,
    Context,
    Matches,
    PlanFacts,
    Result,
    Sums,
    day_lv,
    month_end,
    verdict,
    worst,
)

# the order results are listed in: the plan first, then money
ORDER = (
    "plan.in_progress_in_semester",
    "category.planned",
    "attestation.covers",
    "amount.within_plan",
    "amount.within_caps",
    "double_funding.same_document",
    "double_funding.same_student_month",
    "budget.tenant_semester",
)
assert sorted(ORDER) == sorted(r[0] for r in RULES), "every rule is placed in ORDER"


def run_all(ctx: Context) -> list[Result]:
    """Every rule, in order, on one claim."""
    return [fn(ctx) for _, _, fn in sorted(RULES, key=lambda r: ORDER.index(r[0]))]


__all__ = [
    "ACCEPTED",
    "BLOCK",
    "NEEDS_FIX",
    "NOT_APPLICABLE",
    "ORDER",
    "PASS",
    "REJECTED",
    "RULES",
    "WARN",
    "AttestationFacts",
    "ClaimFacts",
    "Context",
    "Matches",
    "PlanFacts",
    "Result",
    "Sums",
    "day_lv",
    "month_end",
    "run_all",
    "verdict",
    "worst",
]
