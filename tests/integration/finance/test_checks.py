"""Every rule passing and blocking on a real finance worker, each with an explanation a coordinator can act on,
and the verdict recorded for documents and notifications."""

from __future__ import annotations

import pytest

from tests.integration.finance.conftest import outbox, results

pytestmark = pytest.mark.integration

RULES = [
    "plan.in_progress_in_semester",
    "category.planned",
    "attestation.covers",
    "amount.within_plan",
    "amount.within_caps",
    "double_funding.same_document",
    "double_funding.same_student_month",
    "budget.tenant_semester",
]


def _ready(fin_world, **plan_kw):  # type: ignore[no-untyped-def]
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant, **plan_kw)
    fin_world.attestation(tenant, plan)
    return tenant, plan


def verdict_for(runtime, document_id):  # type: ignore[no-untyped-def]
    sent = [p for p in outbox(runtime, "documents.set_review_status") if p["document_id"] == document_id]
    assert sent, "a verdict was recorded for documents"
    return sent[-1]


def test_a_claim_that_passes_every_rule_is_accepted_with_every_reason_explained(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    doc = fin_world.expense(tenant, plan, category="meals", month="2026-10-01", amount="50.00")
    assert doc["claim"].status == "accepted"
    got = results(fin_runtime, doc["claim"].id)
    assert list(got) == RULES
    assert {r.outcome for r in got.values()} == {"pass"}
    for r in got.values():
        assert r.rule_version == 1 and r.explanation_lv and r.explanation_en
    assert "3.50 EUR a day × 31 days = 108.50 EUR" in got["amount.within_caps"].explanation_en
    assert got["attestation.covers"].evidence["issued_on"] == "2026-08-20"
    sent = verdict_for(fin_runtime, doc["document_id"])
    assert sent["status"] == "accepted" and [r["rule_id"] for r in sent["reasons"]] == RULES
    assert {r["outcome"] for r in sent["reasons"]} == {"pass"}
    told = outbox(fin_runtime, "notifications.document_verdict")
    assert not [p for p in told if p["document_id"] == doc["document_id"]]
    events = [p for p in outbox(fin_runtime, "plans.record_student_event") if p["plan_id"] == plan["plan_id"]]
    assert events and events[-1]["source"] == "finance" and "accepted" in events[-1]["summary_en"]
    received = outbox(fin_runtime, "notifications.expense_package_received")
    assert {"tenant_id": tenant["id"], "school_id": tenant["school"], "month": "2026-10-01"} in received


def test_the_plan_must_be_in_progress(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world, status="approved")
    doc = fin_world.expense(tenant, plan)
    r = results(fin_runtime, doc["claim"].id)["plan.in_progress_in_semester"]
    assert r.outcome == "block" and r.blocks_as == "needs_fix"
    assert "is not in progress (status: approved)" in r.explanation_en and "nav īstenošanā" in r.explanation_lv
    assert doc["claim"].status == "needs_fix"
    told = [p for p in outbox(fin_runtime, "notifications.document_verdict") if p["document_id"] == doc["document_id"]]
    assert told and told[-1]["status"] == "needs_fix"
    assert [x["rule_id"] for x in told[-1]["reasons"]] == ["plan.in_progress_in_semester"]
    assert told[-1]["uploaded_by"] == doc["uploaded_by"]


def test_the_month_must_be_inside_the_plans_semester(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    doc = fin_world.expense(tenant, plan, month="2027-02-01")
    r = results(fin_runtime, doc["claim"].id)["plan.in_progress_in_semester"]
    assert r.outcome == "block" and "2027-02 is outside the semester" in r.explanation_en
    assert "Correct the month" in r.explanation_en


def test_a_plan_finance_does_not_know_blocks_and_the_rest_wait(fin_world, fin_runtime):
    tenant = fin_world.tenant()
    ghost = {"plan_id": "00000000-0000-4000-8000-000000000001", "student_id": "00000000-0000-4000-8000-000000000002"}
    doc = fin_world.expense(tenant, ghost)
    got = results(fin_runtime, doc["claim"].id)
    assert got["plan.in_progress_in_semester"].outcome == "block"
    assert "not known to finance" in got["plan.in_progress_in_semester"].explanation_en
    assert got["category.planned"].outcome == "not_applicable"


def test_the_category_must_be_planned(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    doc = fin_world.expense(tenant, plan, category="accommodation", amount="40.00")
    r = results(fin_runtime, doc["claim"].id)["category.planned"]
    assert r.outcome == "block" and "'accommodation' is not a planned measure" in r.explanation_en
    assert "nav plāna" in r.explanation_lv


def test_an_attestation_must_be_on_file(fin_world, fin_runtime):
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant)
    doc = fin_world.expense(tenant, plan)
    r = results(fin_runtime, doc["claim"].id)["attestation.covers"]
    assert r.outcome == "block" and "No attestation" in r.explanation_en
    assert "Upload the attestation" in r.explanation_en


def test_an_attestation_must_predate_the_plans_preparation(fin_world, fin_runtime):
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant, prepared_on="2026-09-10")
    att = fin_world.attestation(tenant, plan, issued_on="2026-09-15")
    doc = fin_world.expense(tenant, plan)
    r = results(fin_runtime, doc["claim"].id)["attestation.covers"]
    assert r.outcome == "block"
    assert "dated 15.09.2026, not before the plan was prepared (10.09.2026)" in r.explanation_en
    answer = verdict_for(fin_runtime, att["document_id"])  # the attestation itself is answered too
    assert answer["status"] == "needs_fix" and answer["reasons"][0]["outcome"] == "block"


def test_an_attestation_must_cover_the_month_and_the_category(fin_world, fin_runtime):
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant)
    fin_world.attestation(tenant, plan, valid_to="2026-09-30")
    october = fin_world.expense(tenant, plan, month="2026-10-01")
    r = results(fin_runtime, october["claim"].id)["attestation.covers"]
    assert r.outcome == "block" and "covers 01.09.2026–30.09.2026, not the month 2026-10" in r.explanation_en
    other = fin_world.tenant()
    plan2 = fin_world.plan(other)
    fin_world.attestation(other, plan2, categories=["meals"])
    ticket = fin_world.expense(other, plan2, category="public_transport", amount="20.00")
    r2 = results(fin_runtime, ticket["claim"].id)["attestation.covers"]
    assert r2.outcome == "block" and "does not list the category 'public_transport'" in r2.explanation_en


def test_the_amount_stays_within_the_plan_cumulatively(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)  # public transport planned: 100.00
    first = fin_world.expense(tenant, plan, category="public_transport", month="2026-09-01", amount="50.00")
    assert first["claim"].status == "accepted"
    second = fin_world.expense(tenant, plan, category="public_transport", month="2026-10-01", amount="60.00")
    r = results(fin_runtime, second["claim"].id)
    assert r["amount.within_caps"].outcome == "pass"
    assert r["amount.within_plan"].outcome == "block"
    assert "Together with 50.00 EUR already accepted, 60.00 EUR exceeds the planned 100.00 EUR by 10.00 EUR" in (
        r["amount.within_plan"].explanation_en
    )


def test_the_amount_stays_within_the_configured_cap(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    doc = fin_world.expense(tenant, plan, category="public_transport", amount="70.00")
    r = results(fin_runtime, doc["claim"].id)["amount.within_caps"]
    assert r.outcome == "block" and "exceeds the cap for 'public_transport' of 60.00 EUR a month" in r.explanation_en
    assert r.evidence["example_values"] is True and r.evidence["settings_revision"] == 1


def test_the_same_file_twice_in_a_tenant_is_rejected_naming_the_first(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    sha = "a" * 64
    first = fin_world.expense(tenant, plan, sha=sha, month="2026-09-01")
    second = fin_world.expense(tenant, plan, sha=sha, month="2026-10-01")
    assert first["claim"].status == "accepted" and second["claim"].status == "rejected"
    r = results(fin_runtime, second["claim"].id)["double_funding.same_document"]
    assert r.outcome == "block" and r.blocks_as == "rejected" and first["document_id"] in r.explanation_en


def test_the_same_student_category_and_month_twice_is_rejected(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    first = fin_world.expense(tenant, plan)
    second = fin_world.expense(tenant, plan, amount="10.00")
    assert first["claim"].status == "accepted" and second["claim"].status == "rejected"
    r = results(fin_runtime, second["claim"].id)["double_funding.same_student_month"]
    assert "'meals' for 2026-10 is already claimed for this student with document" in r.explanation_en


def test_the_tenants_semester_budget_warns_then_blocks(fin_world, fin_runtime, admin_headers, finance):
    tenant, plan = _ready(fin_world)
    changed = finance.post(
        "/settings",
        headers=admin_headers,
        json={
            "effective_from": "2026-09-01",
            "reason": "A small budget for this institution",
            "tenant_budgets": {tenant["id"]: {"2026/2027-1": "100.00"}},
        },
    )
    assert changed.status_code == 201, changed.json
    warned = fin_world.expense(tenant, plan, amount="55.00")  # 40.00 preparation + 55.00: past 90 % of 100.00
    r = results(fin_runtime, warned["claim"].id)["budget.tenant_semester"]
    assert r.outcome == "warn" and warned["claim"].status == "accepted"
    assert "95.00 EUR of the semester budget 100.00 EUR" in r.explanation_en
    over = fin_world.expense(tenant, plan, category="public_transport", amount="20.00")
    r2 = results(fin_runtime, over["claim"].id)["budget.tenant_semester"]
    assert r2.outcome == "block" and over["claim"].status == "rejected"
    assert "budget for semester 2026/2027-1, 100.00 EUR, would be exceeded: 95.00 EUR used" in r2.explanation_en


def test_a_document_with_several_lines_makes_a_claim_each_and_takes_the_worst_verdict(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    lines = [
        {"category": "meals", "month": "2026-10-01", "amount": "30.00"},
        {"category": "public_transport", "month": "2026-10-01", "amount": "90.00"},
    ]
    doc = fin_world.expense(tenant, plan, lines=lines)
    sent = verdict_for(fin_runtime, doc["document_id"])
    assert sent["status"] == "needs_fix"
    assert any(r["explanation_en"].startswith("Line 2: ") and r["outcome"] == "block" for r in sent["reasons"])
    assert any(r["explanation_en"].startswith("Line 1: ") for r in sent["reasons"])


def test_delivered_hours_back_a_consultation_timesheet(fin_world, fin_runtime):
    tenant, plan = _ready(fin_world)
    fin_world.consultation(tenant, plan, "2.00", "2026-10-05")  # 2 h × 30.00 psychologist rate
    from tests.support.workers import wait_for

    def paid() -> bool:
        return any(p["paid_so_far"] == "100.00" for p in outbox(fin_runtime, "plans.plan_paid"))

    wait_for(paid, message="40.00 preparation and 60.00 of hours sent to plans as paid so far")
    fine = fin_world.expense(tenant, plan, category="consultations", amount="60.00")
    assert fine["claim"].status == "accepted"
    got = results(fin_runtime, fine["claim"].id)
    assert got["attestation.covers"].outcome == "not_applicable"
    too_much = fin_world.expense(tenant, plan, category="consultations", month="2026-11-01", amount="30.00")
    r = results(fin_runtime, too_much["claim"].id)["amount.within_plan"]
    assert r.outcome == "block" and "what was delivered this month comes to 0.00 EUR" in r.explanation_en
