"""Documents' audit: every stored upload and every download link given is a record (who, which
document and version, when, which request), kept in the tenant and shown to its auditors."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select

from services.documents.models import AuditEvent
from tests.integration.documents.conftest import expense_form, upload
from tests.unit.documents import samples

pytestmark = pytest.mark.integration


def records(runtime: Any, document_id: str) -> list[AuditEvent]:
    with runtime.db.session() as s:
        query = select(AuditEvent).where(AuditEvent.target_type == "document", AuditEvent.target_id == document_id)
        return list(s.execute(query.order_by(AuditEvent.id)).scalars())


def test_uploads_new_versions_and_every_download_link_are_recorded_without_names(documents, docs_runtime, school_world):
    coordinator, auditor = school_world["coordinator"], school_world["auditor"]
    data = samples.pdf(marker="audits")
    made = documents.post(
        "/documents",
        headers={**coordinator["headers"], "X-Request-ID": "upload-1"},
        data={**expense_form(), "file": (io.BytesIO(data), "Anna Bērziņa 120305-12345 kvīts.pdf")},
        content_type="multipart/form-data",
    )
    assert made.status_code == 201, made.json
    doc = made.json
    upload(documents, coordinator, samples.png(), "labots.png", path=f"/documents/{doc['id']}/versions")
    for who in (coordinator, auditor):
        link = documents.get(f"/documents/{doc['id']}/download", headers={**who["headers"], "X-Request-ID": who["id"]})
        assert link.status_code == 200
    first = documents.get(f"/documents/{doc['id']}/download?version=1", headers=auditor["headers"])
    assert first.status_code == 200

    rows = records(docs_runtime, doc["id"])
    assert [(r.action, str(r.actor_id), r.details.get("version")) for r in rows] == [
        ("document.uploaded", coordinator["id"], 1),
        ("document.version_added", coordinator["id"], 2),
        ("document.downloaded", coordinator["id"], 2),
        ("document.downloaded", auditor["id"], 2),
        ("document.downloaded", auditor["id"], 1),
    ]
    assert {str(r.tenant_id) for r in rows} == {school_world["tenant"]["id"]}
    assert rows[0].request_id == "upload-1" and rows[2].request_id == coordinator["id"]
    assert (
        rows[0].details["sha256"] == made.json["versions"][-1]["sha256"]
        and rows[0].details["kind"] == "expense_receipt"
    )
    for row in rows:  # the file name holds a name and a personal code: neither is in the audit
        assert "Anna" not in str(row.details) and "120305" not in str(row.details) and "kvīts" not in str(row.details)
    # the document's own audit view and the service's audit list show the same records to its auditor
    shown = documents.get(f"/documents/{doc['id']}/audit", headers=auditor["headers"]).json
    assert [a["action"] for a in shown] == [r.action for r in rows]
    listed = documents.get(
        "/audit", headers=auditor["headers"], query_string={"target_type": "document", "target_id": doc["id"]}
    ).json
    assert listed["total"] == 5 and listed["items"][0]["action"] == "document.downloaded"  # newest first
    other = documents.get("/audit", headers=school_world["stranger_accountant"]["headers"])
    assert other.status_code == 403  # an accountant is no auditor
    regional = documents.get("/audit", headers=school_world["other_region"]["headers"])
    assert regional.status_code == 403  # nor is a regional coordinator
