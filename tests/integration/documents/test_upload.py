"""Uploads on the real S3 server and PostgreSQL: what is stored, what is refused, what finance is sent."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from services.documents.kinds import JPEG, PDF, PNG, XLSX
from tests.integration.documents.conftest import (
    bucket_keys,
    count_documents,
    expense_form,
    make_documents_app,
    outbox_rows,
    queued,
    upload,
)
from tests.support.workers import wait_for
from tests.unit.documents import samples

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("make", "name", "kind", "media_type"),
    [
        (samples.pdf, "kvīts oktobris.pdf", "expense_receipt", PDF),
        (samples.jpeg, "biļete.jpg", "transport_ticket", JPEG),
        (samples.png, "rēķins.png", "invoice", PNG),
        (samples.xlsx, "tabele.xlsx", "timesheet", XLSX),
    ],
)
def test_an_accepted_file_is_stored_under_a_key_without_personal_data_and_answers_received(
    documents, docs_runtime, school_world, make, name, kind, media_type
):
    data = make()
    resp = upload(documents, school_world["coordinator"], data, name, **expense_form(kind=kind))
    assert resp.status_code == 201, resp.json
    doc, [version] = resp.json, resp.json["versions"]
    assert doc["status"] == "received" and doc["current_version"] == 1 and doc["kind"] == kind
    assert doc["school_id"] == school_world["school"] and doc["amount"] == "12.30" and doc["month"] == "2026-10"
    assert version == {
        **version,
        "number": 1,
        "media_type": media_type,
        "size": len(data),
        "filename": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "duplicate": False,
    }
    assert resp.json["duplicate"] is False and resp.json["duplicate_of"] == []
    # issue 13: the upload answers the document resource itself, exactly as reading it does (only where it is
    # may have moved on: `queued` once its check reached the broker, issue 14)
    read = documents.get(f"/documents/{doc['id']}", headers=school_world["coordinator"]["headers"])
    assert read.status_code == 200 and read.json["status"] in ("received", "queued")
    assert {**read.json, "status": "received", "updated_at": None} == {**resp.json, "updated_at": None}
    assert [h["to_status"] for h in resp.json["history"]] == ["received"]
    keys = bucket_keys(docs_runtime, school_world["tenant"]["id"])
    assert len(keys) == 1
    assert re.fullmatch(rf"{school_world['tenant']['id']}/\d{{4}}/\d{{2}}/{doc['id']}/v1", keys[0])
    stored = docs_runtime.storage.client.get_object(docs_runtime.storage.bucket, keys[0])
    try:
        assert stored.read() == data and stored.headers["Content-Type"] == media_type
    finally:
        stored.close()
        stored.release_conn()


REFUSED = [
    (lambda: samples.pdf_with_javascript(), "forma.pdf", "active_content"),
    (lambda: samples.pdf_with_open_action("launch"), "palaid.pdf", "active_content"),
    (lambda: samples.encrypted_pdf(), "slepens.pdf", "encrypted_pdf"),
    (lambda: samples.png(), "kvits.pdf", "type_mismatch"),
    (lambda: samples.zip_bomb(), "kvits.zip", "compression_bomb"),
    (lambda: samples.plain_zip(), "kvits.zip", "archive_not_allowed"),
    (lambda: b"", "tukss.pdf", "empty_file"),
    (lambda: b"%PDF-1.7\nnot really a pdf", "salauzts.pdf", "unreadable_file"),
    (lambda: samples.xlsx(), "tabele.xlsx", "type_not_allowed"),  # a receipt is a scan, not a workbook
]


@pytest.mark.parametrize(("make", "name", "code"), REFUSED)
def test_a_refused_file_is_a_422_with_a_code_and_nothing_is_stored_or_sent(
    documents, docs_runtime, documents_settings, school_world, make, name, code
):
    resp = upload(documents, school_world["coordinator"], make(), name, **expense_form())
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert resp.json["code"] == code and resp.json["detail_lv"] and resp.json["title_lv"] == "Datne noraidīta"
    assert count_documents(docs_runtime) == 0 and outbox_rows(docs_runtime) == []
    assert bucket_keys(docs_runtime, school_world["tenant"]["id"]) == []
    assert queued(documents_settings.broker_url, "finance", "finance.check_expense_document") == []


def test_one_byte_over_a_small_limit_is_refused_and_the_limit_itself_is_accepted(
    documents, documents_settings, identity_app, school_world
):
    data = samples.pdf()
    small = make_documents_app(documents_settings.replace(max_upload_bytes=len(data)), identity_app).test_client()
    assert upload(small, school_world["coordinator"], data, **expense_form()).status_code == 201
    over = upload(small, school_world["coordinator"], data + b"\n", **expense_form())
    assert over.status_code == 422 and over.json["code"] == "file_too_large"
    assert over.json["max_bytes"] == len(data)
    # a body far over the limit is refused by its length before it is read: 413, with the same code
    huge = upload(small, school_world["coordinator"], data + bytes(2 * 1024 * 1024), **expense_form())
    assert huge.status_code == 413 and huge.json["code"] == "file_too_large" and huge.json["max_bytes"] == len(data)


def test_metadata_a_kind_needs_is_checked_before_anything_is_stored(documents, docs_runtime, school_world):
    resp = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form(amount=None, plan_id=None))
    assert resp.status_code == 422 and resp.json["code"] == "invalid_input"
    assert set(resp.json["errors"]) == {"amount", "plan_id"}
    resp = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form(amount="12.345"))
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"amount"}
    resp = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form(month="October"))
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"month"}
    resp = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form(kind="recipe"))
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"kind"}
    assert count_documents(docs_runtime) == 0


def test_who_uploads_what(documents, school_world):
    teacher = upload(documents, school_world["teacher"], samples.pdf(), **expense_form())
    assert teacher.status_code == 403 and teacher.json["code"] == "forbidden"  # before the body is read
    elsewhere = upload(
        documents, school_world["coordinator"], samples.pdf(), **expense_form(school_id=school_world["other_school"])
    )
    assert elsewhere.status_code == 403
    unnamed = upload(documents, school_world["accountant"], samples.pdf(), **expense_form())
    assert unnamed.status_code == 422 and "school_id" in unnamed.json["errors"]
    named = upload(
        documents, school_world["accountant"], samples.pdf(), **expense_form(school_id=school_world["other_school"])
    )
    assert named.status_code == 201 and named.json["school_id"] == school_world["other_school"]
    anonymous = documents.post("/documents", data={"kind": "invoice"}, content_type="multipart/form-data")
    assert anonymous.status_code == 401


def test_the_check_message_is_sent_once_after_commit_with_the_facts_and_no_file_name(
    documents, docs_runtime, documents_settings, school_world
):
    form = expense_form(kind="transport_ticket", category="public_transport", amount="18.4")
    resp = upload(documents, school_world["coordinator"], samples.pdf(marker="bilete"), "Anna biļete.pdf", **form)
    assert resp.status_code == 201
    doc_id = resp.json["id"]
    # sent by the commit, or by a worker's relay that took the row first: either way once, and soon
    [row] = wait_for(
        lambda: [r for r in outbox_rows(docs_runtime, "finance.check_expense_document") if r.sent_at],
        timeout=10,
        message="the check message relayed",
    )
    assert row.payload["document_id"] == doc_id
    assert len(outbox_rows(docs_runtime, "finance.check_expense_document")) == 1
    [message] = queued(documents_settings.broker_url, "finance", "finance.check_expense_document")
    assert message["message_id"] == str(row.id)
    body = message["payload"]
    assert body == {
        **body,
        "document_id": doc_id,
        "version": 1,
        "kind": "transport_ticket",
        "amount": "18.40",
        "category": "public_transport",
        "month": "2026-10-01",
        "student_id": form["student_id"],
        "plan_id": form["plan_id"],
        "tenant_id": school_world["tenant"]["id"],
        "school_id": school_world["school"],
        "duplicate_in_tenant": False,
        "duplicate_of": [],
    }
    assert "Anna" not in str(message) and "filename" not in body


def test_an_attestation_registers_with_finance_and_an_application_is_announced_to_plans(
    documents, docs_runtime, documents_settings, school_world
):
    student = str(uuid.uuid4())
    att = upload(
        documents,
        school_world["accountant"],
        samples.pdf(marker="izzina"),
        "izzina.pdf",
        kind="attestation",
        issuer="Ventspils novada Sociālais dienests",
        school_id=school_world["school"],
        student_id=student,
        issued_on="2026-08-20",
        valid_from="2026-09-01",
        valid_to="2026-12-31",
        categories=["meals", "public_transport"],
    )
    assert att.status_code == 201, att.json
    [message] = queued(documents_settings.broker_url, "finance", "finance.register_attestation")
    assert message["payload"]["categories"] == ["meals", "public_transport"]
    assert message["payload"]["valid_to"] == "2026-12-31" and message["payload"]["student_id"] == student
    # issue 13: an application is for a plan, says who signed it and when, and plans learns of it by message
    form = {"kind": "application", "student_id": student}
    bare = upload(documents, school_world["coordinator"], samples.pdf(marker="iesniegums"), "iesniegums.pdf", **form)
    assert bare.status_code == 422 and set(bare.json["errors"]) == {"plan_id", "signer", "signed_on"}
    wrong = upload(
        documents,
        school_world["coordinator"],
        samples.pdf(),
        "i.pdf",
        **form,
        plan_id=str(uuid.uuid4()),
        signer="neighbour",
        signed_on="2026-09-02",
    )
    assert wrong.status_code == 422 and set(wrong.json["errors"]) == {"signer"}
    plan_id = str(uuid.uuid4())
    app = upload(
        documents,
        school_world["coordinator"],
        samples.pdf(marker="iesniegums"),
        "iesniegums.pdf",
        **form,
        plan_id=plan_id,
        signer="parent",
        signed_on="2026-09-02",
    )
    assert app.status_code == 201 and app.json["status"] == "received"
    assert (app.json["signer"], app.json["signed_on"], app.json["plan_id"]) == ("parent", "2026-09-02", plan_id)
    assert len(outbox_rows(docs_runtime)) == 2
    # read from the outbox: a plans worker of another test package may already have taken it off the queue
    [announced] = outbox_rows(docs_runtime, "plans.register_application")
    body = announced.payload
    assert (body["document_id"], body["version"], body["plan_id"], body["student_id"]) == (
        app.json["id"],
        1,
        plan_id,
        student,
    )
    assert (body["signer"], body["signed_on"], body["school_id"]) == ("parent", "2026-09-02", school_world["school"])
    assert "iesniegums" not in str(announced)  # ids and facts, never the file's name or bytes


def test_the_same_bytes_again_in_a_tenant_are_stored_again_and_flagged_to_the_uploader_and_finance(
    documents, documents_settings, school_world, world
):
    data = samples.pdf(marker="tas pats")
    first = upload(documents, school_world["coordinator"], data, **expense_form())
    again = upload(documents, school_world["coordinator"], data, **expense_form())
    assert first.status_code == again.status_code == 201
    assert again.json["id"] != first.json["id"]
    assert again.json["duplicate"] is True and again.json["duplicate_of"] == [first.json["id"]]
    payloads = {
        m["payload"]["document_id"]: m["payload"]
        for m in queued(documents_settings.broker_url, "finance", "finance.check_expense_document")
    }
    assert payloads[first.json["id"]]["duplicate_in_tenant"] is False
    flagged = payloads[again.json["id"]]
    assert flagged["duplicate_in_tenant"] is True and flagged["duplicate_of"] == [first.json["id"]]
    # another tenant's identical bytes are not this tenant's duplicate (finance looks across tenants)
    other = school_world["stranger"]
    elsewhere = upload(documents, other, data, **expense_form())
    assert elsewhere.status_code == 201 and elsewhere.json["duplicate"] is False


def test_an_invoice_with_lines_is_stored_shown_and_sent_to_finance_line_by_line(
    documents, docs_runtime, documents_settings, school_world
):
    import json

    coordinator = school_world["coordinator"]
    lines = [
        {"category": "meals", "month": "2026-10", "amount": "12.30"},
        {"category": "learning_materials", "month": "2026-11", "amount": "7.7"},
    ]
    refused = {
        "not JSON": "meals 12.30",
        "an empty array": "[]",
        "a line without its month": json.dumps([{"category": "meals", "amount": "20.00"}]),
        "an unknown category": json.dumps([{"category": "sweets", "month": "2026-10", "amount": "20.00"}]),
        "lines not adding up": json.dumps([{**lines[0], "amount": "12.31"}, lines[1]]),
        "three decimals": json.dumps([{**lines[0], "amount": "12.295"}, {**lines[1], "amount": "7.705"}]),
    }
    for why, value in refused.items():
        resp = upload(documents, coordinator, samples.pdf(marker=why), **expense_form(kind="invoice", lines=value))
        assert resp.status_code == 422, why
        assert resp.json["code"] == "invalid_input" and set(resp.json["errors"]) == {"lines"}, (why, resp.json)
    attestation = upload(
        documents,
        coordinator,
        samples.pdf(marker="att"),
        kind="attestation",
        student_id=str(uuid.uuid4()),
        issuer="Ventspils novada Sociālais dienests",
        issued_on="2026-08-25",
        valid_from="2026-09-01",
        valid_to="2026-12-22",
        categories=["meals"],
        lines=json.dumps(lines),
    )
    assert attestation.status_code == 422 and set(attestation.json["errors"]) == {"lines"}
    assert count_documents(docs_runtime) == 0  # nothing refused was kept

    resp = upload(
        documents,
        coordinator,
        samples.pdf(marker="rekins"),
        **expense_form(kind="invoice", amount="20", lines=json.dumps(lines)),
    )
    assert resp.status_code == 201, resp.json
    doc_id = resp.json["id"]
    stored = [
        {"category": "meals", "month": "2026-10", "amount": "12.30"},
        {"category": "learning_materials", "month": "2026-11", "amount": "7.70"},
    ]
    assert resp.json["lines"] == stored
    assert documents.get(f"/documents/{doc_id}", headers=coordinator["headers"]).json["lines"] == stored
    [message] = wait_for(
        lambda: queued(documents_settings.broker_url, "finance", "finance.check_expense_document"),
        timeout=10,
        message="the check message",
    )
    assert message["payload"]["lines"] == [
        {"category": "meals", "month": "2026-10-01", "amount": "12.30"},
        {"category": "learning_materials", "month": "2026-11-01", "amount": "7.70"},
    ]


def _rows(runtime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rows in every table of documents' own database."""
    from sqlalchemy import func, select

    from services.documents.models import Base

    with runtime.db.session() as s:
        tables = Base.metadata.sorted_tables
        return {t.name: s.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


# one of each way in, through HTTP (the unit tests walk every variant of each)
HOSTILE_OVER_HTTP = [
    "pdf that is also a zip",
    "png with html after IEND",
    "jpeg with a zip appended",
    "gifar named as jpeg",
    "workbook declaring 200 MB",
    "workbook with a zip inside",
    "pdf opening with launch",
    "pdf with an xfa form",
    "pdf with an attachment",
    "program named as jpeg",
    "png claiming 100 000 × 100 000",
    "jpeg claiming 65 000 × 65 000",
    "pdf without %%EOF",
    "jpeg cut inside its image data",
    "empty file",
]


@pytest.mark.parametrize("case", HOSTILE_OVER_HTTP)
def test_a_hostile_file_leaves_no_row_no_object_and_no_message(
    documents, docs_runtime, documents_settings, school_world, case
):
    from tests.unit.documents.test_hostile_files import HOSTILE

    make, name, code = HOSTILE[case]
    tenant = school_world["tenant"]["id"]
    kind = "timesheet" if name.endswith(".xlsx") else "expense_receipt"  # a kind that takes workbooks
    first = upload(documents, school_world["coordinator"], samples.pdf(marker="ok"), **expense_form(kind=kind))
    assert first.status_code == 201
    rows, keys = _rows(docs_runtime), bucket_keys(docs_runtime, tenant)
    sent = queued(documents_settings.broker_url, "finance", "finance.check_expense_document")

    resp = upload(documents, school_world["coordinator"], make(), name, **expense_form(kind=kind))
    again = upload(documents, school_world["coordinator"], make(), name, f"/documents/{first.json['id']}/versions")

    for answer in (resp, again):
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
        body = answer.json
        assert body["code"] == code and body["title_lv"] == "Datne noraidīta" and body["detail_lv"] != body["detail"]
    assert _rows(docs_runtime) == rows and bucket_keys(docs_runtime, tenant) == keys
    assert queued(documents_settings.broker_url, "finance", "finance.check_expense_document") == sent
    doc = documents.get(f"/documents/{first.json['id']}", headers=school_world["coordinator"]["headers"])
    assert doc.json["current_version"] == 1
