"""Overrides by two people, budget reservations and their release, what is owed per plan, and the overview."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.finance import budgets
from services.finance.models import Reservation
from tests.integration.finance.conftest import outbox, results
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def test_an_override_needs_a_second_different_person_and_records_both(fin_world, finance, fin_runtime):
    tenant = fin_world.tenant()
    plan = fin_world.plan(tenant)
    doc = fin_world.expense(tenant, plan)  # no attestation on file: needs fixing
    claim_id = str(doc["claim"].id)
    first = fin_world.user(tenant, "accountant")
    second = fin_world.user(tenant, "accountant")
    coordinator = fin_world.user(tenant, "school_coordinator", school=True)
    reason = {"reason": "The attestation is on paper in the municipality's archive."}
    assert finance.post(f"/claims/{claim_id}/override", headers=coordinator["headers"], json=reason).status_code == 403
    asked = finance.post(f"/claims/{claim_id}/override", headers=first["headers"], json=reason)
    assert (
        asked.status_code == 201 and asked.json["rules"] == ["attestation.covers"] and asked.json["state"] == "pending"
    )
    again = finance.post(f"/claims/{claim_id}/override", headers=second["headers"], json=reason)
    assert again.status_code == 409 and again.json["code"] == "override_pending"
    alone = finance.post(f"/claims/{claim_id}/override/confirm", headers=first["headers"], json={})
    assert alone.status_code == 409 and alone.json["code"] == "second_person_required"
    assert finance.get(f"/claims/{claim_id}", headers=first["headers"]).json["status"] == "needs_fix"
    done = finance.post(f"/claims/{claim_id}/override/confirm", headers=second["headers"], json={"note": "Seen it."})
    assert done.status_code == 200, done.json
    assert done.json["requested_by"] == first["id"] and done.json["confirmed_by"] == second["id"]
    detail = finance.get(f"/claims/{claim_id}", headers=first["headers"]).json
    assert detail["status"] == "accepted" and detail["history"][-1]["trigger"] == "override"
    att = next(r for r in detail["results"] if r["rule_id"] == "attestation.covers")
    assert att["outcome"] == "block" and att["overridden"] is True  # the result stays as it was, set aside
    assert detail["overrides"][0]["reason"] == reason["reason"]
    verdicts = [p for p in outbox(fin_runtime, "documents.set_review_status") if p["document_id"] == doc["document_id"]]
    assert [v["status"] for v in verdicts] == ["needs_fix", "accepted"]


def test_an_approved_plan_reserves_and_suspension_deletion_and_semester_end_release(fin_world, fin_runtime, finance):
    tenant = fin_world.tenant()
    accountant = fin_world.user(tenant, "accountant")
    snap = fin_world.plan(tenant, status="in_approval")
    plan_id = uuid.UUID(snap["plan_id"])

    def reservation() -> Reservation | None:
        with fin_runtime.db.session() as s:
            return s.get(Reservation, plan_id)

    assert reservation() is None
    fin_world.send_plan({**snap, "revision": 2, "status": "approved"})
    held = reservation()
    assert held is not None and held.state == "held" and str(held.reserved) == snap["planned_financing"]
    fin_world.send_plan({**snap, "revision": 3, "status": "suspended"})
    released = reservation()
    assert released.state == "released" and released.reason == "suspended"
    assert str(released.released) == snap["planned_financing"] and str(released.reserved) == "0.00"
    fin_world.send_plan({**snap, "revision": 4, "status": "approved"})
    assert reservation().state == "held"
    fin_world.send_plan({**snap, "revision": 5, "status": "in_progress"})  # preparation now owed: 2 h × 20.00
    fin_world.attestation(tenant, snap)
    fin_world.expense(tenant, snap, amount="50.00")
    wait_for(lambda: any(p["paid_so_far"] == "90.00" for p in outbox(fin_runtime, "plans.plan_paid")), message="paid")
    with fin_runtime.db.session() as s:  # the semester ends (the hourly round, a day past its end)
        assert budgets.release_ended(s, on=date(2026, 12, 23)) == 1
    ended = reservation()
    assert ended.state == "released" and ended.reason == "semester_ended" and str(ended.reserved) == "90.00"
    assert ended.released + ended.reserved == held.reserved
    listed = finance.get(f"/reservations?tenant_id={tenant['id']}", headers=accountant["headers"]).json
    assert listed["total"] == 1 and listed["items"][0]["state"] == "released"


def test_deleting_a_plan_releases_its_reservation(fin_world, fin_runtime):
    tenant = fin_world.tenant()
    snap = fin_world.plan(tenant, status="approved")
    fin_world.send_plan({**snap, "revision": 2, "status": "inactive"})
    with fin_runtime.db.session() as s:
        row = s.get(Reservation, uuid.UUID(snap["plan_id"]))
        assert row.state == "released" and row.reason == "inactive" and str(row.released) == snap["planned_financing"]


def test_delivered_hours_are_owed_at_the_rate_in_force_on_their_day(fin_world, fin_runtime, finance, admin_headers):
    tenant = fin_world.tenant()
    snap = fin_world.plan(tenant, preparation_hours="0.00")
    raised = finance.post(
        "/settings",
        headers=admin_headers,
        json={
            "effective_from": "2026-11-01",
            "reason": "New psychologist rate",
            "consultation_rates": {"psychologist": "35.00"},
        },
    )
    assert raised.status_code == 201
    fin_world.consultation(tenant, snap, "2.00", "2026-10-20")  # 2 × 30.00
    fin_world.consultation(tenant, snap, "1.00", "2026-11-03")  # 1 × 35.00
    wait_for(
        lambda: any(p["paid_so_far"] == "95.00" for p in outbox(fin_runtime, "plans.plan_paid")),
        message="95.00 owed for the hours",
    )


def test_the_overview_per_tenant_region_and_all(fin_world, finance, fin_runtime):
    kurzeme = fin_world.tenant(region="kurzeme")
    other = fin_world.tenant(region="kurzeme")
    latgale = fin_world.tenant(region="latgale")
    for tenant in (kurzeme, other, latgale):
        snap = fin_world.plan(tenant)
        fin_world.attestation(tenant, snap)
        fin_world.expense(tenant, snap, amount="50.00")
        fin_world.expense(tenant, snap, category="public_transport", amount="70.00")  # over the cap: claimed only
    semester = "semester=2026/2027-1"
    accountant = fin_world.user(kurzeme, "accountant")
    mine = finance.get(f"/overview/tenants/{kurzeme['id']}?{semester}", headers=accountant["headers"])
    assert mine.status_code == 200
    row = mine.json
    assert row["budget"] == "1500.00"  # 100 students × 15.00 (EXAMPLE)
    assert row["claimed"] == "160.00" and row["accepted"] == "90.00" and row["paid"] == "90.00"
    assert row["reserved"] == "740.00"  # the plan's planned financing, held
    cats = {c["category"]: c for c in row["by_category"]}
    assert cats["meals"]["accepted"] == "50.00" and cats["public_transport"]["claimed"] == "70.00"
    assert cats["plan_preparation"]["paid"] == "40.00"
    assert (
        finance.get(f"/overview/tenants/{latgale['id']}?{semester}", headers=accountant["headers"]).status_code == 404
    )
    regional = fin_world.user(None, "regional_coordinator", region="kurzeme")
    region = finance.get(f"/overview/regions/kurzeme?{semester}", headers=regional["headers"])
    assert region.status_code == 200 and region.json["total"]["tenants"] == 2
    assert region.json["total"]["accepted"] == "180.00"
    assert finance.get(f"/overview/regions/latgale?{semester}", headers=regional["headers"]).status_code == 403
    assert finance.get(f"/overview?{semester}", headers=regional["headers"]).status_code == 403
    admin = fin_world.user(None, "platform_admin")
    everything = finance.get(f"/overview?{semester}", headers=admin["headers"]).json
    assert everything["total"]["tenants"] == 3 and everything["total"]["accepted"] == "270.00"
    assert [r["region"] for r in everything["regions"]] == ["kurzeme", "latgale"]
    again = fin_world.expense(latgale, snap)  # the overview counts a rejected claim as claimed, not accepted
    assert results(fin_runtime, again["claim"].id)["double_funding.same_student_month"].outcome == "block"
    row = finance.get(f"/overview/tenants/{latgale['id']}?{semester}", headers=admin["headers"]).json
    assert row["claimed"] == "210.00" and row["accepted"] == "90.00"
