"""Storage and database stay together: S3 stopped before and during an upload, a crash between the two,
and the sweep that removes what a cut-short upload left. The bundled SeaweedFS is really stopped and started."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from services.common.auth import Principal
from services.common.db import utcnow
from services.documents import sweep, uploads
from services.documents.filecheck import inspect_file
from services.documents.kinds import SCANS
from services.documents.models import Document, DocumentVersion
from services.documents.storage import PART_SIZE
from tests.integration.documents.conftest import (
    bucket_keys,
    count_documents,
    expense_form,
    outbox_rows,
    queued,
    sweep_later,
    unfinished,
    upload,
    visible_documents,
)
from tests.support.workers import wait_for
from tests.unit.documents import samples

pytestmark = pytest.mark.integration


def test_with_s3_stopped_an_upload_answers_503_with_retry_after_and_leaves_nothing(
    documents, docs_runtime, documents_settings, school_world, s3_restarted
):
    coordinator = school_world["coordinator"]
    s3_restarted.stop_server("s3")
    resp = upload(documents, coordinator, samples.pdf(), **expense_form())
    assert resp.status_code == 503 and resp.json["code"] == "storage_unavailable"
    assert int(resp.headers["Retry-After"]) > 0
    # only what is known: the bytes may have left before the server went away
    assert "may not have been stored; sending it again is safe" in resp.json["detail"]
    assert "iespējams, nav saglabāta; to var droši nosūtīt vēlreiz" in resp.json["detail_lv"]
    ready = documents.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["storage"].startswith("down")
    assert visible_documents(docs_runtime) == 0 and outbox_rows(docs_runtime) == []
    assert unfinished(docs_runtime) == ["abandoned"]  # set aside for the sweep, seen by nobody
    s3_restarted.start_server("s3")
    # a client retries after Retry-After; the server may take a moment before it takes writes again
    again = wait_for(
        lambda: _accepted(upload(documents, coordinator, samples.pdf(), **expense_form())),
        timeout=60,
        interval=1,
        message="uploads to work again after S3 restarted",
    )
    assert again.json["status"] == "received" and visible_documents(docs_runtime) == 1
    assert len(queued(documents_settings.broker_url, "finance", "finance.check_expense_document")) == 1
    report = sweep_later(docs_runtime, documents_settings)
    assert len(report.removed) == 1
    assert count_documents(docs_runtime) == 1 and unfinished(docs_runtime) == []


def _accepted(resp: Any) -> Any:
    assert resp.status_code in (201, 503), resp.json
    return resp if resp.status_code == 201 else None


def test_s3_stopped_in_the_middle_of_a_multipart_upload_leaves_no_record_and_no_object(
    documents, docs_runtime, documents_settings, school_world, s3_restarted, monkeypatch
):
    storage = docs_runtime.storage
    real_put = storage.client.put_object

    class StopsS3Midway:
        """Reads like the upload's file, and stops the S3 server once the first part has been read."""

        def __init__(self, stream: Any) -> None:
            self.stream, self.read_so_far = stream, 0

        def read(self, size: int = -1) -> bytes:
            if self.read_so_far >= PART_SIZE and "s3" in s3_restarted.pids():
                s3_restarted.stop_server("s3")
            data = self.stream.read(size)
            self.read_so_far += len(data)
            return bytes(data)

    def put_object(bucket: str, key: str, data: Any, length: int, **kw: Any) -> Any:
        return real_put(bucket, key, StopsS3Midway(data), length, **kw)

    monkeypatch.setattr(storage.client, "put_object", put_object)
    big = samples.png(2000, 2000, noise=True)  # about 12 MB: three parts of a multipart upload
    assert len(big) > 2 * PART_SIZE
    resp = upload(documents, school_world["coordinator"], big, "foto.png", **expense_form())
    assert resp.status_code == 503 and resp.json["code"] == "storage_unavailable"
    assert "s3" not in s3_restarted.pids()
    assert visible_documents(docs_runtime) == 0 and outbox_rows(docs_runtime) == []
    s3_restarted.start_server("s3")
    assert bucket_keys(docs_runtime, school_world["tenant"]["id"]) == []
    sweep_later(docs_runtime, documents_settings)
    assert count_documents(docs_runtime) == 0 and unfinished(docs_runtime) == []
    # the multipart upload the server still holds is aborted by the sweep (or the lifecycle rule)
    assert storage.abort_stale_multipart(timedelta(0)) >= 1
    assert [
        u
        for u in storage.client._list_multipart_uploads(storage.bucket).uploads
        if u.object_name.startswith(school_world["tenant"]["id"])
    ] == []


def test_bytes_that_land_after_the_client_was_told_the_upload_failed_are_removed_by_the_sweep(
    documents, docs_runtime, documents_settings, school_world, s3_restarted, monkeypatch
):
    """A PUT that timed out on our side while the server went on to store it (seen with SeaweedFS coming back
    up): the client is answered 503, and no bytes stay without a record once the sweep has run."""
    import urllib3

    storage = docs_runtime.storage
    real_put = storage.client.put_object

    def put_then_time_out(*args: Any, **kw: Any) -> Any:
        real_put(*args, **kw)  # the server stores it...
        raise urllib3.exceptions.ReadTimeoutError(None, args[1], "Read timed out.")  # ...after we gave up

    monkeypatch.setattr(storage.client, "put_object", put_then_time_out)
    resp = upload(documents, school_world["coordinator"], samples.pdf(marker="late"), **expense_form())
    assert resp.status_code == 503 and resp.json["code"] == "storage_unavailable"
    monkeypatch.setattr(storage.client, "put_object", real_put)
    tenant = school_world["tenant"]["id"]
    [key] = bucket_keys(docs_runtime, tenant)  # the bytes are there
    assert visible_documents(docs_runtime) == 0 and outbox_rows(docs_runtime) == []
    assert documents.get("/documents", headers=school_world["coordinator"]["headers"]).json["items"] == []

    with docs_runtime.db.session() as s:  # not before the grace period: a slow PUT may still be landing
        assert sweep.sweep_uploads(s, storage, documents_settings).removed == []
    report = sweep_later(docs_runtime, documents_settings)
    assert report.removed == [key]  # bytes the client was told failed: not kept
    assert bucket_keys(docs_runtime, tenant) == []
    assert count_documents(docs_runtime) == 0 and unfinished(docs_runtime) == []


def _intent(
    docs_runtime: Any, settings: Any, school_world: Any, data: bytes, *, with_object: bool, age_minutes: int
) -> Any:
    """What a crash leaves: the intent row committed, the bytes stored or not, nothing after."""
    coordinator = school_world["coordinator"]
    principal = Principal(coordinator["id"], school_world["tenant"]["id"], "kurzeme", ())
    stream = io.BytesIO(data)
    inspected = inspect_file(stream, filename="k.pdf", allowed=SCANS, max_bytes=settings.max_upload_bytes)
    form = expense_form()
    meta = uploads.check_metadata(
        "expense_receipt",
        {
            "student_id": uuid.UUID(form["student_id"]),
            "plan_id": uuid.UUID(form["plan_id"]),
            "category": "meals",
            "month": date(2026, 10, 1),
            "amount": Decimal("9.99"),
        },
    )
    with docs_runtime.db.session() as s:
        pending = uploads.begin(
            s,
            settings,
            principal=principal,
            kind="expense_receipt",
            tenant_id=uuid.UUID(school_world["tenant"]["id"]),
            school_id=uuid.UUID(school_world["school"]),
            document_id=None,
            metadata=meta,
            filename="k.pdf",
            inspected=inspected,
        )
        s.execute(
            update(DocumentVersion)
            .where(DocumentVersion.id == pending.version_id)
            .values(created_at=utcnow() - timedelta(minutes=age_minutes))
        )
    if with_object:
        docs_runtime.storage.put(
            pending.key, stream, inspected.size, inspected.media_type, {"sha256": inspected.sha256}, retain_until=None
        )
    return pending


def _state(docs_runtime: Any, document_id: Any) -> str | None:
    with docs_runtime.db.session() as s:
        doc = s.get(Document, document_id)
        return doc.state if doc else None


def test_the_sweep_on_the_real_worker_removes_a_crashed_uploads_bytes_and_an_empty_intent_but_no_fresh_one(
    documents, docs_runtime, documents_settings, school_world, documents_worker
):
    """A crash after the bytes landed (the client saw its connection drop) and one before: neither becomes a
    document, so the client's second sending of the file is the only one finance checks."""
    stored = _intent(
        docs_runtime, documents_settings, school_world, samples.pdf(marker="a"), with_object=True, age_minutes=60
    )
    empty = _intent(
        docs_runtime, documents_settings, school_world, samples.pdf(marker="b"), with_object=False, age_minutes=60
    )
    fresh = _intent(
        docs_runtime, documents_settings, school_world, samples.pdf(marker="c"), with_object=False, age_minutes=0
    )
    assert stored.key in bucket_keys(docs_runtime, school_world["tenant"]["id"])
    with docs_runtime.db.session() as s:  # as the scheduler sends it, through the contract
        docs_runtime.outbox.publish(s, "documents.sweep_uploads", {})
    wait_for(lambda: _state(docs_runtime, stored.document_id) is None, timeout=30, message="the crashed upload to go")
    wait_for(lambda: _state(docs_runtime, empty.document_id) is None, timeout=10, message="the empty intent to go")
    assert _state(docs_runtime, fresh.document_id) == "uploading"  # still inside its grace period
    assert bucket_keys(docs_runtime, school_world["tenant"]["id"]) == []
    assert documents.get("/documents", headers=school_world["coordinator"]["headers"]).json["total"] == 0
    assert queued(documents_settings.broker_url, "finance", "finance.check_expense_document") == []
    with docs_runtime.db.session() as s:
        left = s.execute(select(DocumentVersion).where(DocumentVersion.document_id == stored.document_id))
        assert left.first() is None


def test_the_check_message_waits_for_the_commit_a_crash_before_it_sends_nothing_and_the_sweep_removes_it(
    documents, docs_runtime, documents_settings, school_world, monkeypatch
):
    class CrashAfterPublish:
        def info(self, *args: Any, **kw: Any) -> None:
            raise RuntimeError("the process died after writing the message, before the commit")

        def warning(self, *args: Any, **kw: Any) -> None:
            pass

    monkeypatch.setattr(uploads, "log", CrashAfterPublish())
    resp = upload(documents, school_world["coordinator"], samples.pdf(marker="crash"), **expense_form())
    assert resp.status_code == 500
    assert outbox_rows(docs_runtime) == []
    assert queued(documents_settings.broker_url, "finance", "finance.check_expense_document") == []
    assert documents.get("/documents", headers=school_world["coordinator"]["headers"]).json["total"] == 0
    monkeypatch.undo()
    report = sweep_later(docs_runtime, documents_settings)  # the client was answered 500: nothing is kept
    assert len(report.removed) == 1 and count_documents(docs_runtime) == 0
    assert bucket_keys(docs_runtime, school_world["tenant"]["id"]) == []
    assert queued(documents_settings.broker_url, "finance", "finance.check_expense_document") == []
