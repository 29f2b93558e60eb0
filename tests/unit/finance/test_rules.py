"""Each rule as a plain function: passing, blocking (and warning) with an explanation a coordinator can act on."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from services.finance import programme, rules
from services.finance.rules_money import (
    amount_within_caps,
    amount_within_plan,
    same_document,
    same_student_month,
    tenant_budget,
)
from services.finance.rules_plan import attestation_covers, category_planned, plan_in_progress

pytestmark = pytest.mark.unit

TENANT, STUDENT, PLAN = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
PROG = programme.Programme(1, date(2021, 9, 1), programme.normalised(programme.EXAMPLE_SETTINGS), True)


def ctx(**changes) -> rules.Context:  # type: ignore[no-untyped-def]
    claim = rules.ClaimFacts(
        document_id=uuid.uuid4(),
        tenant_id=TENANT,
        student_id=STUDENT,
        plan_id=PLAN,
        category=changes.pop("category", "meals"),
        month=changes.pop("month", date(2026, 10, 1)),
        amount=Decimal(changes.pop("amount", "50.00")),
        sha256="f" * 64,
        student_key="k" * 64,
    )
    plan = rules.PlanFacts(
        plan_id=PLAN,
        tenant_id=TENANT,
        student_id=STUDENT,
        code="IAP-1",
        status=changes.pop("status", "in_progress"),
        semester="2026/2027-1",
        semester_start=date(2026, 9, 1),
        semester_end=date(2026, 12, 22),
        prepared_on=date(2026, 9, 10),
        preparation_hours=Decimal("2"),
        measures=(
            {"kind": "compensation", "category": "meals", "planned_amount": "300.00"},
            {"kind": "compensation", "category": "public_transport", "planned_amount": "100.00"},
            {"kind": "consultation", "provider_type": "psychologist", "planned_hours": "10"},
        ),
    )
    att = rules.AttestationFacts(
        uuid.uuid4(),
        date(2026, 8, 20),
        date(2026, 9, 1),
        date(2026, 12, 22),
        ("meals", "public_transport"),
        "Ventspils",
    )
    base = {
        "claim": claim,
        "plan": plan,
        "programme": PROG,
        "attestations": (att,),
        "matches": rules.Matches(),
        "sums": rules.Sums(tenant_budget=Decimal("1500.00")),
    }
    base.update(changes)
    return rules.Context(**base)


def test_a_clean_claim_passes_every_rule_and_is_accepted():
    results = rules.run_all(ctx())
    assert [r.rule_id for r in results] == list(rules.ORDER)
    assert {r.outcome for r in results} == {"pass"}
    assert all(r.explanation_lv and r.explanation_en and r.rule_version == 1 for r in results)
    assert rules.verdict(results) == "accepted"


def test_the_plan_rule_blocks_a_plan_not_in_progress_a_month_outside_and_another_students_plan():
    r = plan_in_progress(ctx(status="suspended"))
    assert r.outcome == "block" and r.blocks_as == "needs_fix" and "status: suspended" in r.explanation_en
    r = plan_in_progress(ctx(month=date(2027, 1, 1)))
    assert r.outcome == "block" and "outside the semester" in r.explanation_en and "2027-01" in r.explanation_lv
    c = ctx()
    r = plan_in_progress(replace(c, claim=replace(c.claim, student_id=uuid.uuid4())))
    assert r.outcome == "block" and "belongs to another student" in r.explanation_en
    r = plan_in_progress(ctx(plan=None))
    assert r.outcome == "block" and "not known to finance" in r.explanation_en
    assert plan_in_progress(ctx(month=date(2026, 12, 1))).outcome == "pass"  # December overlaps the semester


def test_the_category_must_be_a_planned_measure():
    assert category_planned(ctx()).outcome == "pass"
    r = category_planned(ctx(category="accommodation"))
    assert r.outcome == "block" and "'accommodation' is not a planned measure of plan IAP-1" in r.explanation_en
    assert category_planned(ctx(category="consultations")).outcome == "pass"
    assert category_planned(ctx(plan=None)).outcome == "not_applicable"


def test_the_attestation_rule_explains_each_way_it_fails():
    c = ctx()
    assert attestation_covers(c).outcome == "pass"
    assert "No attestation" in attestation_covers(ctx(attestations=())).explanation_en
    late = replace(c.attestations[0], issued_on=date(2026, 9, 10))
    r = attestation_covers(ctx(attestations=(late,)))
    assert r.outcome == "block" and "not before the plan was prepared (10.09.2026)" in r.explanation_en
    short = replace(c.attestations[0], valid_to=date(2026, 9, 30))
    assert "not the month 2026-10" in attestation_covers(ctx(attestations=(short,))).explanation_en
    narrow = replace(c.attestations[0], categories=("public_transport",))
    assert "does not list the category 'meals'" in attestation_covers(ctx(attestations=(narrow,))).explanation_en
    assert attestation_covers(ctx(category="consultations")).outcome == "not_applicable"


def test_the_newest_covering_attestation_is_the_one_judged():
    c = ctx()
    old = replace(c.attestations[0], issued_on=date(2026, 8, 1))
    newer_but_late = replace(c.attestations[0], issued_on=date(2026, 9, 20))
    assert attestation_covers(ctx(attestations=(old, newer_but_late))).outcome == "block"


def test_the_amount_is_judged_cumulatively_against_the_plan():
    within = ctx(category="public_transport", amount="50.00", sums=rules.Sums(plan_category_accepted=Decimal("50.00")))
    assert amount_within_plan(within).outcome == "pass"
    over = ctx(category="public_transport", amount="50.01", sums=rules.Sums(plan_category_accepted=Decimal("50.00")))
    r = amount_within_plan(over)
    assert r.outcome == "block" and "by 0.01 EUR" in r.explanation_en and "0,01 EUR" in r.explanation_lv
    hours = ctx(category="consultations", amount="60.00", sums=rules.Sums(owed_this_month=Decimal("60.00")))
    assert amount_within_plan(hours).outcome == "pass"
    assert amount_within_plan(replace(hours, sums=rules.Sums())).outcome == "block"


def test_caps_per_day_month_and_semester():
    # meals: 3.50 a day × the days of October inside the semester (31) = 108.50
    assert amount_within_caps(ctx(amount="108.50")).outcome == "pass"
    r = amount_within_caps(ctx(amount="108.51"))
    assert r.outcome == "block" and "3.50 EUR a day × 31 days = 108.50 EUR" in r.explanation_en
    # December is cut at the semester's end (22 days)
    assert amount_within_caps(ctx(amount="77.01", month=date(2026, 12, 1))).outcome == "block"
    r = amount_within_caps(ctx(category="public_transport", amount="60.01"))
    assert r.outcome == "block" and "60.00 EUR a month" in r.explanation_en
    sums = rules.Sums(plan_category_accepted=Decimal("90.00"))
    r = amount_within_caps(ctx(category="learning_materials", amount="10.01", sums=sums))
    assert r.outcome == "block" and "100.00 EUR a semester" in r.explanation_en
    assert amount_within_caps(ctx(category="consultations")).outcome == "not_applicable"


def test_double_funding_names_a_document_of_the_same_tenant_only():
    here = rules.Matches(same_bytes_here=("doc-1",))
    r = same_document(ctx(matches=here))
    assert r.outcome == "block" and r.blocks_as == "rejected" and "doc-1" in r.explanation_en
    r = same_document(ctx(matches=rules.Matches(same_bytes_elsewhere=True)))
    assert "another institution" in r.explanation_en and r.evidence == {"sha256": "f" * 64, "other_institution": True}
    r = same_student_month(ctx(matches=rules.Matches(same_month_elsewhere=True)))
    assert r.outcome == "block" and "another institution" in r.explanation_en and "citā iestādē" in r.explanation_lv
    assert set(r.evidence) == {"category", "month", "other_institution"}
    assert same_student_month(ctx(matches=rules.Matches(same_month_here=("doc-2",)))).explanation_en.endswith("doc-2.")
    assert same_document(ctx()).outcome == same_student_month(ctx()).outcome == "pass"


def test_the_budget_warns_past_the_share_and_blocks_past_the_budget():
    assert tenant_budget(
        ctx(sums=rules.Sums(tenant_used=Decimal("1300.00"), tenant_budget=Decimal("1500.00")))
    ).outcome == ("pass")
    warn = tenant_budget(ctx(sums=rules.Sums(tenant_used=Decimal("1360.00"), tenant_budget=Decimal("1500.00"))))
    assert warn.outcome == "warn" and rules.verdict([warn]) == "accepted"
    block = tenant_budget(ctx(sums=rules.Sums(tenant_used=Decimal("1460.00"), tenant_budget=Decimal("1500.00"))))
    assert block.outcome == "block" and block.blocks_as == "rejected"
    assert tenant_budget(ctx(category="consultations")).outcome == "not_applicable"


def test_the_verdict_and_the_worst_of_several_and_overrides():
    results = rules.run_all(ctx(attestations=(), matches=rules.Matches(same_bytes_elsewhere=True)))
    assert rules.verdict(results) == "rejected"
    assert rules.verdict(results, frozenset({"double_funding.same_document"})) == "needs_fix"
    assert rules.verdict(results, frozenset({"double_funding.same_document", "attestation.covers"})) == "accepted"
    assert (
        rules.worst(["accepted", "needs_fix"]) == "needs_fix" and rules.worst(["rejected", "needs_fix"]) == "rejected"
    )
