"""Retention: nothing goes before its retention ends (our rule, and the bucket's object lock), and a
deletion removes every stored byte while the record and an audit entry stay."""

from __future__ import annotations

import pytest
from minio.error import S3Error

from tests.integration.documents.conftest import bucket_keys, upload
from tests.unit.documents import samples

pytestmark = pytest.mark.integration


def test_a_document_inside_its_retention_cannot_be_deleted_by_anyone_not_even_through_s3(
    documents, docs_runtime, school_world
):
    order = upload(
        documents,
        school_world["director"],
        samples.pdf(marker="rīkojums"),
        "rikojums.pdf",
        kind="directors_order",
        issued_on="2026-10-01",
    )
    assert order.status_code == 201, order.json
    doc = order.json
    admin = school_world["admin"]["headers"]
    resp = documents.delete(f"/documents/{doc['id']}?reason=tīrīšana", headers=admin)
    assert resp.status_code == 409 and resp.json["code"] == "retention_not_ended"
    assert resp.json["retain_until"] == doc["retain_until"]
    [key] = bucket_keys(docs_runtime, school_world["tenant"]["id"])
    if docs_runtime.storage.object_lock:  # the bucket's object lock refuses too
        with pytest.raises(S3Error) as err:
            docs_runtime.storage.remove_all_versions(key)
        assert err.value.code == "AccessDenied"
    assert bucket_keys(docs_runtime, school_world["tenant"]["id"]) == [key]


def test_after_retention_a_deletion_removes_every_version_and_keeps_an_audit_record(
    documents, docs_runtime, school_world
):
    accountant = school_world["accountant"]
    doc = upload(
        documents, accountant, samples.pdf(marker="pārskats"), "parskats.pdf", kind="statement", month="2026-10"
    ).json
    upload(documents, accountant, samples.xlsx(), "parskats.xlsx", path=f"/documents/{doc['id']}/versions")
    assert len(bucket_keys(docs_runtime, school_world["tenant"]["id"])) == 2
    not_theirs = documents.delete(f"/documents/{doc['id']}?reason=vairs nevajag", headers=accountant["headers"])
    assert not_theirs.status_code == 403
    missing_reason = documents.delete(f"/documents/{doc['id']}", headers=school_world["municipality"]["headers"])
    assert missing_reason.status_code == 422
    resp = documents.delete(
        f"/documents/{doc['id']}?reason=Glabāšanas termiņš beidzies", headers=school_world["municipality"]["headers"]
    )
    assert resp.status_code == 200, resp.json
    assert resp.json["action"] == "document.deleted"
    assert [v["version"] for v in resp.json["details"]["versions"]] == [1, 2]
    storage = docs_runtime.storage
    leftovers = list(
        storage.client.list_objects(
            storage.bucket, prefix=school_world["tenant"]["id"], recursive=True, include_version=True
        )
    )
    assert leftovers == []  # no version and no delete marker: the bytes are gone
    headers = accountant["headers"]
    assert documents.get(f"/documents/{doc['id']}", headers=headers).status_code == 404
    assert documents.get("/documents", headers=headers).json["total"] == 0
    audit = documents.get(f"/documents/{doc['id']}/audit", headers=headers).json
    assert [(a["action"], a["actor_id"]) for a in audit] == [
        ("document.uploaded", accountant["id"]),
        ("document.version_added", accountant["id"]),
        ("document.deleted", school_world["municipality"]["id"]),
    ]
    assert audit[-1]["details"]["reason"] == "Glabāšanas termiņš beidzies"
    assert all(a["document_id"] == a["target_id"] == doc["id"] and a["request_id"] for a in audit)
