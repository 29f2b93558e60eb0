"""The headline flow on real workers: an upload in documents is checked by finance and the verdict comes back
to documents; a month's statement is built, stored through documents, and built again byte for byte."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from services.documents.models import Document, DocumentVersion, StatusChange
from services.finance import statements
from services.finance.render import render_csv
from tests.integration.documents.conftest import expense_form, upload
from tests.integration.finance.conftest import outbox
from tests.support.workers import wait_for
from tests.unit.documents import samples

pytestmark = pytest.mark.integration


def doc_status(runtime: Any, document_id: str) -> str | None:
    with runtime.db.session() as s:
        doc = s.get(Document, uuid.UUID(document_id))
        return doc.status if doc else None


def accepted_attestation(
    documents: Any, docs: Any, coordinator: dict[str, Any], plan: dict[str, Any], categories: list[str], marker: str
) -> str:
    """A social service's attestation for the plan's student, uploaded and accepted by finance; its id."""
    attestation = upload(
        documents,
        coordinator,
        samples.pdf(marker=marker),
        filename="izzina.pdf",
        kind="attestation",
        issuer="Ventspils novada Sociālais dienests",
        student_id=plan["student_id"],
        issued_on="2026-08-25",
        valid_from="2026-09-01",
        valid_to="2026-12-22",
        categories=categories,
    )
    assert attestation.status_code == 201, attestation.json
    att_id: str = attestation.json["id"]
    wait_for(lambda: doc_status(docs, att_id) == "accepted", timeout=30, message="the attestation accepted")
    return att_id


def test_an_upload_is_checked_by_finance_and_the_verdict_reaches_documents(
    fin_world, finance, fin_runtime, documents, documents_app, documents_worker
):
    docs = documents_app.extensions["runtime"]
    tenant = fin_world.tenant()
    coordinator = fin_world.user(tenant, "school_coordinator", school=True)
    plan = fin_world.plan(tenant)
    att_id = accepted_attestation(documents, docs, coordinator, plan, ["meals"], marker="izzina")
    from services.finance.models import Attestation

    with fin_runtime.db.session() as s:  # finance recorded who issued it, from the upload's metadata
        recorded = s.execute(select(Attestation).where(Attestation.document_id == uuid.UUID(att_id))).scalar_one()
        assert recorded.issuer == "Ventspils novada Sociālais dienests"
    form = expense_form(student_id=plan["student_id"], plan_id=plan["plan_id"], category="meals", amount="12.30")
    receipt = upload(documents, coordinator, samples.pdf(marker="kvits-1"), **form)
    assert receipt.status_code == 201
    doc_id = receipt.json["id"]
    wait_for(lambda: doc_status(docs, doc_id) == "accepted", timeout=30, message="finance's verdict in documents")
    with docs.db.session() as s:
        change = s.execute(
            select(StatusChange).where(StatusChange.document_id == uuid.UUID(doc_id), StatusChange.source == "finance")
        ).scalar_one()
        assert len(change.reasons) == 8 and {r["outcome"] for r in change.reasons} == {"pass"}
    again = upload(documents, coordinator, samples.pdf(marker="kvits-2"), **{**form, "amount": "5.00"})
    again_id = again.json["id"]
    wait_for(lambda: doc_status(docs, again_id) == "rejected", timeout=30, message="the double claim rejected")
    shown = documents.get(f"/documents/{again_id}/history", headers=coordinator["headers"]).json
    reasons = {r["rule_id"]: r for r in shown[-1]["reasons"]}
    assert reasons["double_funding.same_student_month"]["outcome"] == "block"
    assert doc_id in reasons["double_funding.same_student_month"]["explanation_en"]  # the same tenant: named


def _stored_bytes(docs: Any, document_id: str) -> bytes:
    with docs.db.session() as s:
        version = s.execute(
            select(DocumentVersion).where(DocumentVersion.document_id == uuid.UUID(document_id))
        ).scalar_one()
        key = version.object_key
    resp = docs.storage.client.get_object(docs.storage.bucket, key)
    try:
        return resp.read()  # type: ignore[no-any-return]
    finally:
        resp.close()
        resp.release_conn()


def test_a_statement_is_stored_through_documents_and_built_again_byte_for_byte(
    fin_world, finance, fin_runtime, documents, documents_app, documents_worker
):
    docs = documents_app.extensions["runtime"]
    docs.storage.ready()  # documents owns the bucket; finance only stages files in it
    tenant = fin_world.tenant()
    accountant = fin_world.user(tenant, "accountant")
    coordinator = fin_world.user(tenant, "school_coordinator", school=True)
    plan = fin_world.plan(tenant)
    fin_world.attestation(tenant, plan)
    assert fin_world.expense(tenant, plan, amount="50.00")["claim"].status == "accepted"
    fin_world.consultation(tenant, plan, "2.00", "2026-10-06")
    wait_for(lambda: any(p["paid_so_far"] == "150.00" for p in outbox(fin_runtime, "plans.plan_paid")), message="hours")
    body = {"tenant_id": tenant["id"], "month": "2026-10"}
    assert finance.post("/statements", headers=coordinator["headers"], json=body).status_code == 403
    made = finance.post("/statements", headers=accountant["headers"], json=body)
    assert made.status_code == 201, made.json
    st = made.json
    assert st["number"] == 1 and st["total"] == "110.00" and st["trigger"] == "on_demand"
    assert st["totals"]["by_category"] == {"consultations": "60.00", "meals": "50.00"}
    assert [s["amount"] for s in st["totals"]["by_student"]] == ["110.00"]
    files = {f["format"]: f for f in st["files"]}
    assert set(files) == {"csv", "pdf", "xlsx"}

    def stored() -> bool:
        return all(doc_status(docs, f["document_id"]) == "received" for f in files.values())

    wait_for(stored, timeout=30, message="the three files stored as statement documents")
    csv_bytes = _stored_bytes(docs, files["csv"]["document_id"])
    assert hashlib.sha256(csv_bytes).hexdigest() == files["csv"]["sha256"] == st["csv_sha256"]
    pdf = _stored_bytes(docs, files["pdf"]["document_id"])
    assert pdf.startswith(b"%PDF")
    # issue 13: the institution's registration number, as identity publishes it, on the statement people sign
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Registration No. {tenant['registration_number']}" in text and "Psihologs" in text
    with fin_runtime.db.session() as s:  # generated again from the same data: the same bytes
        assert render_csv(statements.compute(s, uuid.UUID(tenant["id"]), date(2026, 10, 1))) == csv_bytes
    text = csv_bytes.decode()
    assert "meals" in text and "psychologist,2.00,30.00,60.00" in text and plan["student_key"] not in text
    again = finance.post("/statements", headers=accountant["headers"], json=body)
    assert again.status_code == 200 and again.json["id"] == st["id"] and again.json["number"] == 1
    ready = [p for p in outbox(fin_runtime, "notifications.statement_ready") if p["statement_id"] == st["id"]]
    assert len(ready) == 1 and ready[0]["document_id"] == files["pdf"]["document_id"] and ready[0]["total"] == "110.00"
    staged = list(docs.storage.client.list_objects(docs.storage.bucket, prefix="staging/", recursive=True))
    assert staged == []  # documents copied each file into its own layout and removed the staged copy
    with docs.db.session() as s:
        kinds = {d.kind for d in s.execute(select(Document).where(Document.month == date(2026, 10, 1))).scalars()}
        assert "statement" in kinds
    listed = documents.get("/documents?kind=statement", headers=accountant["headers"])
    assert listed.status_code == 200 and listed.json["total"] >= 3
    # the data changes: the next build is a new statement of the month
    fin_world.expense(tenant, plan, category="public_transport", amount="40.00")
    rebuilt = finance.post("/statements", headers=accountant["headers"], json=body)
    assert rebuilt.status_code == 201 and rebuilt.json["number"] == 2 and rebuilt.json["total"] == "150.00"
    assert finance.get(f"/statements/{st['id']}", headers=accountant["headers"]).json["total"] == "110.00"
    assert finance.get(f"/statements/{st['id']}", headers=coordinator["headers"]).status_code == 404


def test_the_scheduler_builds_last_months_statements_on_the_statement_day(fin_world, fin_runtime, documents_app):
    documents_app.extensions["runtime"].storage.ready()
    tenant = fin_world.tenant()
    quiet = fin_world.tenant()  # no expenses, no hours: no statement
    plan = fin_world.plan(tenant)
    fin_world.attestation(tenant, plan)
    fin_world.expense(tenant, plan, amount="20.00")
    with fin_runtime.db.session() as s:
        assert statements.scheduled(s, fin_runtime.outbox, fin_runtime.staging, on=date(2026, 11, 14)) == 0
    with fin_runtime.db.session() as s:
        assert statements.scheduled(s, fin_runtime.outbox, fin_runtime.staging, on=date(2026, 11, 15)) == 1
    with fin_runtime.db.session() as s:  # the next hourly round on the same day builds nothing again
        assert statements.scheduled(s, fin_runtime.outbox, fin_runtime.staging, on=date(2026, 11, 15)) == 0
        built = statements.latest_of(s, uuid.UUID(tenant["id"]), date(2026, 10, 1))
        assert built is not None and built.trigger == "schedule" and str(built.total) == "20.00"
        assert statements.latest_of(s, uuid.UUID(quiet["id"]), date(2026, 10, 1)) is None


def test_an_invoice_with_lines_becomes_one_checked_claim_per_line(
    fin_world, finance, fin_runtime, documents, documents_app, documents_worker
):
    import json

    from services.finance.models import Claim

    docs = documents_app.extensions["runtime"]
    tenant = fin_world.tenant()
    coordinator = fin_world.user(tenant, "school_coordinator", school=True)
    plan = fin_world.plan(tenant)
    accepted_attestation(documents, docs, coordinator, plan, ["meals", "public_transport"], marker="izzina-rindas")
    lines = [
        {"category": "meals", "month": "2026-10", "amount": "10.00"},
        {"category": "public_transport", "month": "2026-11", "amount": "8.00"},
    ]
    form = expense_form(
        kind="invoice", student_id=plan["student_id"], plan_id=plan["plan_id"], amount="18.00", lines=json.dumps(lines)
    )
    invoice = upload(documents, coordinator, samples.pdf(marker="rekins-rindas"), **form)
    assert invoice.status_code == 201, invoice.json
    doc_id = invoice.json["id"]
    wait_for(lambda: doc_status(docs, doc_id) == "accepted", timeout=30, message="finance's verdict in documents")
    with fin_runtime.db.session() as s:
        claims = s.execute(select(Claim).where(Claim.document_id == uuid.UUID(doc_id)).order_by(Claim.line)).scalars()
        assert [(c.line, c.category, c.month, str(c.amount), c.status) for c in claims] == [
            (1, "meals", date(2026, 10, 1), "10.00", "accepted"),
            (2, "public_transport", date(2026, 11, 1), "8.00", "accepted"),
        ]
