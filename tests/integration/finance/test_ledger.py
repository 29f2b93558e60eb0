"""The double-funding ledger across tenants (no personal data crosses), and a check message delivered again."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal

import pytest
import redis
from sqlalchemy import event, select

from services.finance import ledger, programme
from services.finance.models import MESSAGING, CheckResult, CheckRun, Claim
from tests.integration.finance.conftest import count, expense, outbox, results, send_as, student_key
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def test_the_same_student_claimed_in_another_tenant_is_caught_without_naming_anything_of_it(fin_world, fin_runtime):
    key = student_key()  # the same person, enrolled in two municipalities, each with its own student id
    ventspils = fin_world.tenant(region="kurzeme")
    rezekne = fin_world.tenant(region="latgale")
    first_plan = fin_world.plan(ventspils, key=key)
    second_plan = fin_world.plan(rezekne, key=key)
    fin_world.attestation(ventspils, first_plan)
    fin_world.attestation(rezekne, second_plan)
    first = fin_world.expense(ventspils, first_plan)
    second = fin_world.expense(rezekne, second_plan)
    assert first["claim"].status == "accepted" and second["claim"].status == "rejected"
    r = results(fin_runtime, second["claim"].id)["double_funding.same_student_month"]
    assert r.outcome == "block" and "by another institution" in r.explanation_en and "citā iestādē" in r.explanation_lv
    # nothing of the first tenant reaches the second: not its tenant, document, plan, student or the key
    secrets = [ventspils["id"], first["document_id"], first_plan["plan_id"], first_plan["student_id"], key]
    sent = [p for p in outbox(fin_runtime, "documents.set_review_status") if p["document_id"] == second["document_id"]]
    told = [
        p for p in outbox(fin_runtime, "notifications.document_verdict") if p["document_id"] == second["document_id"]
    ]
    visible = json.dumps([sent, told, r.explanation_lv, r.explanation_en, r.evidence])
    for secret in secrets:
        assert secret not in visible
    assert told and told[0]["tenant_id"] == rezekne["id"]


def test_the_same_file_submitted_in_another_tenant_is_caught(fin_world, fin_runtime):
    a, b = fin_world.tenant(), fin_world.tenant(region="vidzeme")
    plan_a, plan_b = fin_world.plan(a), fin_world.plan(b)
    fin_world.attestation(a, plan_a)
    fin_world.attestation(b, plan_b)
    sha = "b" * 64
    first = fin_world.expense(a, plan_a, sha=sha)
    second = fin_world.expense(b, plan_b, sha=sha)
    assert first["claim"].status == "accepted" and second["claim"].status == "rejected"
    r = results(fin_runtime, second["claim"].id)["double_funding.same_document"]
    assert "submitted by another institution" in r.explanation_en
    assert first["document_id"] not in r.explanation_en + json.dumps(r.evidence) and a["id"] not in json.dumps(
        r.evidence
    )


def test_a_check_message_delivered_again_changes_nothing(fin_world, fin_runtime):
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant)
    fin_world.attestation(tenant, plan)
    body = expense(tenant, plan)
    message_id = send_as(fin_runtime, "finance.check_expense_document", body)
    fin_world.claim_of(body["document_id"])

    def state() -> tuple[int, ...]:
        return (
            count(fin_runtime, Claim),
            count(fin_runtime, CheckRun),
            count(fin_runtime, CheckResult),
            len(outbox(fin_runtime)),
            count(fin_runtime, MESSAGING.dead_letters),
        )

    before = state()
    send_as(fin_runtime, "finance.check_expense_document", body, message_id=message_id)  # the broker again
    replay = send_as(fin_runtime, "finance.check_expense_document", body)  # a replay under a new message id
    broker = redis.Redis.from_url(fin_runtime.settings.broker_url)

    def both_handled() -> bool:
        with fin_runtime.db.session() as s:
            done = s.execute(select(MESSAGING.processed).where(MESSAGING.processed.c.message_id == replay)).first()
        return bool(done) and broker.llen("finance") == 0

    wait_for(both_handled, message="the worker to take both messages")
    time.sleep(0.5)  # the same-id copy may still be finishing on the other worker process
    assert state() == before


def test_a_new_version_of_a_document_replaces_its_claim_in_the_ledger(fin_world, fin_runtime):
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant)
    fin_world.attestation(tenant, plan)
    v1 = fin_world.expense(tenant, plan, category="public_transport", amount="70.00")
    assert v1["claim"].status == "needs_fix"  # over the 60.00 monthly cap
    v2 = fin_world.expense(
        tenant, plan, category="public_transport", amount="55.00", document_id=v1["document_id"], version=2
    )
    assert v2["claim"].status == "accepted"
    with fin_runtime.db.session() as s:
        assert s.get(Claim, v1["claim"].id).superseded is True
    late = fin_world.expense(tenant, plan, category="public_transport", amount="55.00")
    assert late["claim"].status == "rejected"  # version 2 holds the month, version 1 no longer counts


def test_the_budget_used_counts_each_started_plans_preparation_and_reads_the_settings_once_for_all(
    fin_world, fin_runtime
):
    """Every check sums what its tenant has used: the cost of that must not grow with the tenant's plans."""
    tenant = fin_world.tenant()
    for k in range(6):  # started plans prepared on two days, then one still waiting (nothing owed yet)
        fin_world.plan(tenant, prepared_on=f"2026-09-{10 + k % 2}", preparation_hours="1.25")
    fin_world.plan(tenant, status="approved", preparation_hours="3.00")
    engine = fin_runtime.db.engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    with fin_runtime.db.session() as s:
        rate = programme.in_force(s, date(2026, 9, 10)).preparation_rate
        event.listen(engine, "before_cursor_execute", seen)
        try:
            used = ledger.tenant_used(s, tenant["id"], "2026/2027-1")
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert used == 6 * programme.money(Decimal("1.25") * rate)  # 6 × 25.00 with the EXAMPLE rate of 20.00
    assert sum("programme_settings" in q for q in statements) == 1  # not once a plan
    assert len(statements) == 4  # claims, hours, the started plans, the settings
