"""Reading documents back: versions, presigned downloads, lists and filters, tenants apart, monthly packages."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.documents.conftest import bucket_keys, expense_form, make_documents_app, upload
from tests.unit.documents import samples

pytestmark = pytest.mark.integration


def test_a_second_upload_is_a_new_version_and_the_first_stays_readable(documents, docs_runtime, school_world):
    coordinator = school_world["coordinator"]
    first = samples.pdf(marker="v1")
    doc = upload(documents, coordinator, first, "kvits.pdf", **expense_form()).json
    second = samples.jpeg()
    resp = upload(
        documents, coordinator, second, "kvits-labots.jpg", path=f"/documents/{doc['id']}/versions", amount="11.90"
    )
    assert resp.status_code == 201, resp.json
    assert [v["number"] for v in resp.json["versions"]] == [1, 2] and resp.json["current_version"] == 2
    assert resp.json["amount"] == "11.90" and resp.json["status"] == "received"
    versions = documents.get(f"/documents/{doc['id']}/versions", headers=coordinator["headers"]).json
    assert [(v["number"], v["filename"], v["size"]) for v in versions] == [
        (1, "kvits.pdf", len(first)),
        (2, "kvits-labots.jpg", len(second)),
    ]
    keys = sorted(bucket_keys(docs_runtime, school_world["tenant"]["id"]))
    assert [k.rsplit("/", 1)[1] for k in keys] == ["v1", "v2"]
    for number, data in ((1, first), (2, second)):
        link = documents.get(f"/documents/{doc['id']}/download?version={number}", headers=coordinator["headers"])
        assert requests.get(link.json["url"], timeout=10).content == data
    detail = documents.get(f"/documents/{doc['id']}", headers=coordinator["headers"]).json
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    assert [(h["version"], h["to_status"], h["source"]) for h in detail["history"]] == [
        (1, "received", "upload"),
        (2, "received", "upload"),
    ]


def test_a_version_of_a_kind_takes_the_kinds_types_and_a_stranger_cannot_add_one(documents, school_world):
    doc = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form()).json
    wrong = upload(
        documents, school_world["coordinator"], samples.xlsx(), "x.xlsx", path=f"/documents/{doc['id']}/versions"
    )
    assert wrong.status_code == 422 and wrong.json["code"] == "type_not_allowed"
    stranger = upload(documents, school_world["stranger"], samples.pdf(), path=f"/documents/{doc['id']}/versions")
    assert stranger.status_code == 404
    reader = upload(documents, school_world["auditor"], samples.pdf(), path=f"/documents/{doc['id']}/versions")
    assert reader.status_code == 403


def test_a_download_link_serves_the_bytes_under_the_original_name_then_expires_and_is_recorded(
    documents, documents_settings, identity_app, school_world
):
    fast = make_documents_app(documents_settings.replace(presign_minutes=2 / 60), identity_app).test_client()
    coordinator = school_world["coordinator"]
    data = samples.pdf(marker="lejupielāde")
    doc = upload(fast, coordinator, data, "Kvīts oktobris.pdf", **expense_form()).json
    link = fast.get(f"/documents/{doc['id']}/download", headers=coordinator["headers"]).json
    assert link["version"] == 1 and link["filename"] == "Kvīts oktobris.pdf"
    parts = urlsplit(link["url"])
    assert f"{parts.scheme}://{parts.netloc}" == documents_settings.public_endpoint
    assert doc["student_id"] not in link["url"]
    got = requests.get(link["url"], timeout=10)
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"] == (
        "attachment; filename=\"Kv_ts oktobris.pdf\"; filename*=UTF-8''Kv%C4%ABts%20oktobris.pdf"
    )
    time.sleep(3)
    assert requests.get(link["url"], timeout=10).status_code == 403
    director = school_world["director"]
    fast.get(f"/documents/{doc['id']}/download", headers=director["headers"])
    records = fast.get(f"/documents/{doc['id']}/downloads", headers=coordinator["headers"]).json
    assert [(r["user_id"], r["version"]) for r in records] == [(coordinator["id"], 1), (director["id"], 1)]


def test_another_tenants_documents_are_not_found_anywhere(documents, school_world):
    doc = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form()).json
    stranger = school_world["stranger_accountant"]["headers"]
    for path in (
        f"/documents/{doc['id']}",
        f"/documents/{doc['id']}/versions",
        f"/documents/{doc['id']}/history",
        f"/documents/{doc['id']}/download",
        f"/documents/{doc['id']}/downloads",
        f"/documents/{doc['id']}/audit",
    ):
        resp = documents.get(path, headers=stranger)
        assert resp.status_code == 404 and resp.json["code"] == "not_found", path
    assert documents.get("/documents", headers=stranger).json["total"] == 0
    listed = documents.get(f"/documents?tenant_id={school_world['tenant']['id']}", headers=stranger).json
    assert listed["total"] == 0
    package = documents.get(f"/packages/2026-10?tenant_id={school_world['tenant']['id']}", headers=stranger)
    assert package.status_code == 404


def test_who_reads_what_inside_a_tenant_and_a_region(documents, school_world):
    doc = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form()).json

    def sees(user: str) -> bool:
        return documents.get(f"/documents/{doc['id']}", headers=school_world[user]["headers"]).status_code == 200

    assert sees("coordinator") and sees("director") and sees("accountant") and sees("municipality")
    assert sees("auditor") and sees("regional") and sees("admin")
    assert not sees("other_school_coordinator") and not sees("other_region") and not sees("teacher")
    assert not sees("preparer")  # preparers read what they uploaded themselves


def test_lists_filter_by_kind_student_plan_month_and_status(documents, school_world):
    coordinator = school_world["coordinator"]
    student = str(uuid.uuid4())
    a = upload(documents, coordinator, samples.pdf(marker="a"), **expense_form(student_id=student)).json
    upload(documents, coordinator, samples.pdf(marker="b"), **expense_form(month="2026-11", kind="invoice"))
    application = {"student_id": student, "plan_id": str(uuid.uuid4()), "signer": "parent", "signed_on": "2026-09-02"}
    assert upload(documents, coordinator, samples.pdf(marker="c"), kind="application", **application).status_code == 201

    def ids(query: str) -> list[str]:
        page = documents.get(f"/documents?{query}", headers=coordinator["headers"]).json
        return [d["id"] for d in page["items"]]

    assert len(ids("")) == 3
    assert ids("kind=expense_receipt") == [a["id"]]
    assert len(ids(f"student_id={student}")) == 2
    assert ids(f"plan_id={a['plan_id']}") == [a["id"]]
    assert len(ids("month=2026-11")) == 1 and ids("status=accepted") == []
    # each waits for its checker: the expense documents for finance, the application for plans
    assert len(ids("status=queued")) == 3 and ids("status=received") == []
    assert documents.get("/documents?month=11.2026", headers=coordinator["headers"]).status_code == 422
    page = documents.get("/documents?page_size=2&page=2", headers=coordinator["headers"]).json
    assert page["total"] == 3 and len(page["items"]) == 1


def test_the_monthly_package_lists_documents_totals_and_what_is_missing(documents, school_world):
    accountant, coordinator = school_world["accountant"], school_world["coordinator"]
    covered, uncovered, plan = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    upload(
        documents,
        accountant,
        samples.pdf(marker="izzina"),
        kind="attestation",
        issuer="Ventspils novada Sociālais dienests",
        school_id=school_world["school"],
        student_id=covered,
        issued_on="2026-08-20",
        valid_from="2026-09-01",
        valid_to="2026-12-31",
        categories=["meals"],
    )
    upload(documents, coordinator, samples.pdf(marker="1"), **expense_form(student_id=covered, amount="10.00"))
    upload(documents, coordinator, samples.pdf(marker="2"), **expense_form(student_id=uncovered, amount="5.50"))
    upload(
        documents,
        coordinator,
        samples.xlsx(),
        "tabele.xlsx",
        **expense_form(kind="timesheet", category="consultations", plan_id=plan, amount="48.00"),
    )
    upload(documents, coordinator, samples.pdf(marker="nov"), **expense_form(month="2026-11"))
    resp = documents.get("/packages/2026-10", headers=accountant["headers"])
    assert resp.status_code == 200, resp.json
    package = resp.json
    assert package["month"] == "2026-10" and len(package["documents"]) == 4  # with the attestation
    assert package["counts"]["queued"] == 4 and package["claimed_total"] == "63.50"  # all wait for finance
    assert package["accepted_total"] == "0.00" and package["complete"] is False
    missing = {(m["code"], m.get("student_id") or m.get("plan_id")) for m in package["missing"]}
    assert missing == {("attestation_missing", uncovered), ("ka_form_missing", plan)}
    school_only = documents.get(
        f"/packages/2026-10?school_id={school_world['other_school']}", headers=accountant["headers"]
    ).json
    assert school_only["documents"] == [] and school_only["missing"][0]["code"] == "no_expense_documents"
    assert documents.get("/packages/oktobris", headers=accountant["headers"]).status_code == 422
