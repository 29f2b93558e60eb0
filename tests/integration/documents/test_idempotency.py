"""An upload is safe to send again: its Idempotency-Key answers the first one's document, never a second, and a
failed attempt the client sent again without one leaves no ghost for finance to check. On the real PostgreSQL,
S3 and Redis; crashes are the request failing at the very point a killed process would."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
import urllib3
from sqlalchemy import update

from services.common.db import utcnow
from services.documents import uploads
from services.documents.models import UploadKey
from tests.integration.documents.conftest import (
    bucket_keys,
    count_documents,
    expense_form,
    outbox_rows,
    sweep_later,
    unfinished,
    upload,
    visible_documents,
)
from tests.unit.documents import samples

pytestmark = pytest.mark.integration

CHECK = "finance.check_expense_document"


def keyed(documents: Any, user: Any, data: bytes, key: str, path: str = "/documents", **form: Any) -> Any:
    """An upload with its Idempotency-Key, as the portal sends every file."""
    import io

    body = {**form, "file": (io.BytesIO(data), "kvits.pdf")}
    headers = {**user["headers"], "Idempotency-Key": key}
    return documents.post(path, headers=headers, data=body, content_type="multipart/form-data")


def same(answer: Any) -> tuple[Any, ...]:
    """What an upload answered: the document, the version stored and the duplicate flag (the document's status
    and times move on as its check goes)."""
    body = answer.json
    return body["id"], body["current_version"], body["duplicate"], body["duplicate_of"]


def checks_sent(runtime: Any) -> list[str]:
    """The documents finance was asked to check (the outbox keeps every message it sent)."""
    return [row.payload["document_id"] for row in outbox_rows(runtime, CHECK)]


def crash_after_the_bytes_landed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies once S3 has the whole file and before its record says so (as a kill -9 then would)."""

    def died(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the API process was killed here")

    monkeypatch.setattr(uploads, "finish", died)


def test_a_retry_with_the_key_answers_the_first_upload_and_a_version_too(documents, docs_runtime, school_world):
    coordinator, key, data, form = school_world["coordinator"], str(uuid.uuid4()), samples.pdf(), expense_form()
    first = keyed(documents, coordinator, data, key, **form)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = keyed(documents, coordinator, data, key, **form)  # its answer was lost on the way: sent again
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert same(again) == same(first)
    doc = first.json["id"]
    assert first.json["status"] == "received" and again.json["status"] == "queued"
    assert count_documents(docs_runtime) == 1 and checks_sent(docs_runtime) == [doc]

    fix, version_key = samples.pdf(marker="labots"), str(uuid.uuid4())
    path = f"/documents/{doc}/versions"
    v2 = keyed(documents, coordinator, fix, version_key, path=path)
    v2_again = keyed(documents, coordinator, fix, version_key, path=path)
    assert v2.status_code == v2_again.status_code == 201 and same(v2_again) == same(v2)
    assert v2.json["current_version"] == 2
    read = documents.get(f"/documents/{doc}", headers=coordinator["headers"]).json
    assert [v["number"] for v in read["versions"]] == [1, 2]
    assert checks_sent(docs_runtime) == [doc, doc]
    assert len(bucket_keys(docs_runtime, school_world["tenant"]["id"])) == 2


def test_the_key_of_another_upload_is_refused_until_it_expires_and_a_bad_key_is_refused(
    documents, docs_runtime, documents_settings, school_world
):
    coordinator, key = school_world["coordinator"], str(uuid.uuid4())
    assert keyed(documents, coordinator, samples.pdf(), key, **expense_form()).status_code == 201
    other = keyed(documents, coordinator, samples.pdf(marker="cits"), key, **expense_form())
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused" and other.json["detail_lv"]
    # another user's key is their own
    for_school = expense_form(school_id=school_world["school"])  # the accountant works for the whole tenant
    assert (
        keyed(documents, school_world["accountant"], samples.pdf(marker="cits"), key, **for_school).status_code == 201
    )
    assert count_documents(docs_runtime) == 2
    bad = keyed(documents, coordinator, samples.pdf(marker="x"), "ar atstarpi", **expense_form())
    assert bad.status_code == 422 and bad.json["code"] == "invalid_input" and "Idempotency-Key" in bad.json["errors"]
    with docs_runtime.db.session() as s:
        s.execute(
            update(UploadKey).values(created_at=utcnow() - timedelta(hours=documents_settings.idempotency_hours + 1))
        )
    assert keyed(documents, coordinator, samples.pdf(marker="cits"), key, **expense_form()).status_code == 201
    assert count_documents(docs_runtime) == 3


def test_a_second_request_while_the_first_is_still_uploading_is_told_to_wait_then_gets_its_answer(
    documents, docs_runtime, school_world, monkeypatch
):
    coordinator, key, data, form = school_world["coordinator"], str(uuid.uuid4()), samples.pdf(), expense_form()
    storage = docs_runtime.storage
    real_put, in_put, go_on = storage.put, threading.Event(), threading.Event()

    def slow_put(*args: Any, **kwargs: Any) -> Any:
        in_put.set()
        assert go_on.wait(30)
        return real_put(*args, **kwargs)

    monkeypatch.setattr(storage, "put", slow_put)
    answers: list[Any] = []
    first = threading.Thread(target=lambda: answers.append(keyed(documents, coordinator, data, key, **form)))
    first.start()
    try:
        assert in_put.wait(30)
        wait = keyed(documents, coordinator, data, key, **form)
        assert wait.status_code == 409 and wait.json["code"] == "upload_in_progress"
        assert int(wait.headers["Retry-After"]) > 0 and wait.json["detail_lv"]
    finally:
        go_on.set()
        first.join(30)
    assert answers[0].status_code == 201
    then = keyed(documents, coordinator, data, key, **form)
    assert then.status_code == 201 and then.json["id"] == answers[0].json["id"]
    assert count_documents(docs_runtime) == 1


def test_a_process_killed_after_the_bytes_landed_is_finished_by_the_retry_with_its_key(
    documents, docs_runtime, documents_settings, school_world, monkeypatch
):
    coordinator, key, data, form = school_world["coordinator"], str(uuid.uuid4()), samples.pdf(), expense_form()
    with monkeypatch.context() as m:
        crash_after_the_bytes_landed(m)
        lost = keyed(documents, coordinator, data, key, **form)
    assert lost.status_code == 500 and visible_documents(docs_runtime) == 0
    [left] = bucket_keys(docs_runtime, school_world["tenant"]["id"])  # the whole file, with no record yet
    retry = keyed(documents, coordinator, data, key, **form)
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    doc = retry.json["id"]
    assert left.split("/")[3] == doc  # the first attempt's document and bytes, not a second copy
    assert bucket_keys(docs_runtime, school_world["tenant"]["id"]) == [left]
    assert checks_sent(docs_runtime) == [doc]
    history = documents.get(f"/documents/{doc}/history", headers=coordinator["headers"]).json
    assert [h["source"] for h in history] == ["retry"]
    assert sweep_later(docs_runtime, documents_settings).removed == []
    assert count_documents(docs_runtime) == 1 and unfinished(docs_runtime) == []


def test_after_a_503_a_retry_with_the_key_takes_the_bytes_that_landed_late_or_stores_them_once(
    documents, docs_runtime, documents_settings, school_world, monkeypatch
):
    """A PUT that timed out on our side while S3 went on to store it: the retry answers those bytes. A PUT that
    stored nothing: the retry stores the file, once, and the sweep removes the failed attempt's intent."""
    coordinator, storage = school_world["coordinator"], docs_runtime.storage
    real_put = storage.client.put_object

    def put_then_time_out(*args: Any, **kw: Any) -> Any:
        real_put(*args, **kw)
        raise urllib3.exceptions.ReadTimeoutError(None, args[1], "Read timed out.")

    def nothing_stored(*args: Any, **kw: Any) -> Any:
        raise urllib3.exceptions.ReadTimeoutError(None, args[1], "Read timed out.")

    answered = []
    for fault in (put_then_time_out, nothing_stored):
        key, data, form = str(uuid.uuid4()), samples.pdf(marker=fault.__name__), expense_form()
        with monkeypatch.context() as m:
            m.setattr(storage.client, "put_object", fault)
            failed = keyed(documents, coordinator, data, key, **form)
        assert failed.status_code == 503 and failed.json["code"] == "storage_unavailable"
        assert "may not have been stored" in failed.json["detail"]
        retry = keyed(documents, coordinator, data, key, **form)
        assert retry.status_code == 201, retry.json
        assert (retry.headers.get("Idempotent-Replayed") == "true") is (fault is put_then_time_out)
        assert same(keyed(documents, coordinator, data, key, **form)) == same(retry)
        answered.append(retry.json["id"])
    assert visible_documents(docs_runtime) == 2 and checks_sent(docs_runtime) == answered
    report = sweep_later(docs_runtime, documents_settings)
    assert len(report.removed) == 1  # the attempt that stored nothing
    assert count_documents(docs_runtime) == 2 and unfinished(docs_runtime) == []
    assert sorted(k.split("/")[3] for k in bucket_keys(docs_runtime, school_world["tenant"]["id"])) == sorted(answered)


def test_a_failed_upload_sent_again_without_a_key_is_checked_once_and_leaves_no_ghost(
    documents, docs_runtime, documents_settings, school_world, monkeypatch
):
    """The bytes of a killed upload are in the bucket; the user sends the same file for the same claim again, as a
    new upload. Only that one becomes a document, not a duplicate of anything: finance is asked once and has no
    second copy to refuse as double funding; the sweep removes the first attempt's bytes and intent."""
    coordinator, data, form = school_world["coordinator"], samples.pdf(marker="divreiz"), expense_form()
    with monkeypatch.context() as m:
        crash_after_the_bytes_landed(m)
        assert upload(documents, coordinator, data, **form).status_code == 500
    again = upload(documents, coordinator, data, **form)
    assert again.status_code == 201 and again.json["duplicate"] is False
    doc = again.json["id"]
    report = sweep_later(docs_runtime, documents_settings)
    assert len(report.removed) == 1
    assert [k.split("/")[3] for k in bucket_keys(docs_runtime, school_world["tenant"]["id"])] == [doc]
    assert count_documents(docs_runtime) == 1 and checks_sent(docs_runtime) == [doc]
