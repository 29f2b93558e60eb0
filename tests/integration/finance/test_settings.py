"""Programme settings: EXAMPLE values seeded and published, changed only by the platform admin with a history,
and a change re-running the checks it affects, recording per claim what changed and why."""

from __future__ import annotations

from datetime import date

import pytest

from services.finance import programme, settings_changes
from services.finance.models import Claim, SettingsRevision
from tests.integration.finance.conftest import outbox
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def test_the_example_settings_are_seeded_marked_and_published(fin_world, finance, fin_runtime):
    tenant = fin_world.tenant()
    reader = fin_world.user(tenant, "accountant")
    got = finance.get("/settings", headers=reader["headers"])
    assert got.status_code == 200
    assert got.json["revision"] == 1 and got.json["example_values"] is True
    values = got.json["values"]
    assert values["consultation_rates"]["psychologist"] == "30.00" and values["preparation_hours_cap"] == "6"
    assert values["compensation_caps"]["meals"]["per_day"] == "3.50" and values["deadline_day"] == 10
    assert "EXAMPLE" in got.json["reason"]
    [to_plans] = outbox(fin_runtime, "plans.sync_programme_settings")
    assert to_plans["example_values"] is True and to_plans["preparation_hours_cap"] == "6"
    assert "meals" in to_plans["compensation_categories"] and to_plans["semesters"]
    [calendar] = outbox(fin_runtime, "notifications.sync_calendar")
    assert calendar["deadline_day"] == 10 and calendar["revision"] == 1
    with fin_runtime.db.session() as s:  # seeding again adds no revision
        assert settings_changes.seed(s, fin_runtime.outbox) == 1
        assert s.query(SettingsRevision).count() == 1


def test_only_the_platform_admin_changes_settings_and_each_change_is_kept(fin_world, finance, admin_headers):
    tenant = fin_world.tenant()
    accountant = fin_world.user(tenant, "accountant")
    change = {"effective_from": "2026-11-01", "reason": "Official rate published", "preparation_rate": "22.00"}
    assert finance.post("/settings", headers=accountant["headers"], json=change).status_code == 403
    made = finance.post("/settings", headers=admin_headers, json={**change, "example_values": False})
    assert made.status_code == 201, made.json
    assert made.json["revision"] == 2 and made.json["values"]["preparation_rate"] == "22.00"
    assert made.json["values"]["consultation_rates"]["teacher"] == "20.00"  # the rest carried over
    history = finance.get("/settings/history", headers=admin_headers).json
    assert [h["revision"] for h in history] == [2, 1] and history[0]["reason"] == "Official rate published"
    assert finance.get("/settings", headers=admin_headers).json["revision"] == 2


def test_bad_values_are_refused_naming_each(finance, admin_headers):
    bad = finance.post(
        "/settings",
        headers=admin_headers,
        json={
            "effective_from": "2026-11-01",
            "reason": "Typing errors",
            "consultation_rates": {"astrologer": "10.00", "teacher": "-1"},
            "compensation_caps": {"caviar": {"per_day": "1.00"}},
        },
    )
    assert bad.status_code == 422 and bad.json["code"] == "settings_invalid"
    assert {"consultation_rates.astrologer", "consultation_rates.teacher", "compensation_caps.caviar"} <= set(
        bad.json["errors"]
    )


def test_a_future_change_is_published_when_its_day_comes(finance, admin_headers, fin_runtime):
    made = finance.post(
        "/settings",
        headers=admin_headers,
        json={"effective_from": "2027-01-01", "reason": "Next year's rates", "preparation_rate": "25.00"},
    )
    assert made.status_code == 201
    assert finance.get("/settings", headers=admin_headers).json["revision"] == 1
    assert [p["revision"] for p in outbox(fin_runtime, "plans.sync_programme_settings")] == [1]
    with fin_runtime.db.session() as s:
        assert settings_changes.publish_in_force(s, fin_runtime.outbox, on=date(2027, 1, 4)) == 2
    assert [p["revision"] for p in outbox(fin_runtime, "plans.sync_programme_settings")] == [1, 2]


def test_a_read_over_many_days_takes_for_each_day_the_revision_in_force_on_it(finance, admin_headers, fin_runtime):
    for effective_from, rate in (("2027-01-01", "25.00"), ("2026-10-01", "21.00"), ("2027-03-01", "26.00")):
        made = finance.post(
            "/settings",
            headers=admin_headers,
            json={"effective_from": effective_from, "reason": f"Rate from {effective_from}", "preparation_rate": rate},
        )
        assert made.status_code == 201, made.json
    days = [
        date(2021, 1, 1),
        date(2026, 9, 30),
        date(2026, 10, 1),
        date(2027, 1, 1),
        date(2027, 3, 1),
        date(2030, 1, 1),
    ]
    with fin_runtime.db.session() as s:
        read_once = programme.InForce(s)
        # revision 3 (from 2026-10-01) is newer than revision 2 (from 2027-01-01): it governs from its day on
        assert [read_once(d).revision for d in days] == [1, 1, 3, 3, 4, 4]
        assert [read_once(d).revision for d in days] == [programme.in_force(s, d).revision for d in days]
        assert read_once(date(2027, 3, 2)).preparation_rate == programme.in_force(s, date(2027, 3, 2)).preparation_rate


def test_a_settings_change_rechecks_the_claims_it_governs_and_records_why(
    fin_world, finance, admin_headers, fin_runtime
):
    tenant = fin_world.tenant()
    accountant = fin_world.user(tenant, "accountant")
    october = []
    for _ in range(4):  # more than one re-check batch (3 in the tests)
        plan = fin_world.plan(tenant)
        fin_world.attestation(tenant, plan)
        october.append(fin_world.expense(tenant, plan, category="public_transport", amount="50.00"))
    plan = fin_world.plan(tenant)
    fin_world.attestation(tenant, plan)
    september = fin_world.expense(tenant, plan, category="public_transport", month="2026-09-01", amount="50.00")
    assert {d["claim"].status for d in [*october, september]} == {"accepted"}
    made = finance.post(
        "/settings",
        headers=admin_headers,
        json={
            "effective_from": "2026-10-01",
            "reason": "Lower public transport cap",
            "compensation_caps": {"public_transport": {"per_month": "40.00"}},
        },
    )
    assert made.status_code == 201

    def rechecked() -> bool:
        with fin_runtime.db.session() as s:
            return all(s.get(Claim, d["claim"].id).runs == 2 for d in october)

    wait_for(rechecked, timeout=30, message="every October claim checked again")
    detail = finance.get(f"/claims/{october[-1]['claim'].id}", headers=accountant["headers"]).json
    assert detail["status"] == "needs_fix" and detail["settings_revision"] == 2
    run = detail["history"][-1]
    assert run["trigger"] == "settings" and run["previous_verdict"] == "accepted" and run["verdict"] == "needs_fix"
    assert {"setting": "compensation_caps.public_transport.per_month", "from": "60.00", "to": "40.00"} in run["changes"]
    assert {"rule_id": "amount.within_caps", "from": "pass", "to": "block"} in run["changes"]
    assert "revision 2" in run["reason_en"] and "60.00 → 40.00" in run["reason_en"]
    caps = next(r for r in detail["results"] if r["rule_id"] == "amount.within_caps")
    assert "40.00 EUR a month" in caps["explanation_en"]
    with fin_runtime.db.session() as s:
        assert s.get(Claim, september["claim"].id).runs == 1  # September is governed by revision 1 still
    verdicts = [
        p for p in outbox(fin_runtime, "documents.set_review_status") if p["document_id"] == october[0]["document_id"]
    ]
    assert [v["status"] for v in verdicts] == ["accepted", "needs_fix"]
    assert [p["revision"] for p in outbox(fin_runtime, "plans.sync_programme_settings")] == [1, 2]
