"""Finance's verdicts reach documents through the real broker and a real worker, and count once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from services.documents import review
from services.documents.models import MESSAGING, AuditEvent, Document, StatusChange
from tests.integration.documents.conftest import expense_form, upload
from tests.support.workers import wait_for
from tests.unit.documents import samples

pytestmark = pytest.mark.integration

REASONS = [
    {
        "rule_id": "plan.in_progress",
        "rule_version": 1,
        "outcome": "pass",
        "explanation_lv": "Plāns ir īstenošanā.",
        "explanation_en": "The plan is in progress.",
    },
    {
        "rule_id": "amount.within_cap",
        "rule_version": 2,
        "outcome": "block",
        "explanation_lv": "Summa pārsniedz ēdināšanas limitu 3,00 EUR dienā.",
        "explanation_en": "The amount exceeds the meal cap of 3.00 EUR a day.",
    },
]


def verdict(
    doc: dict[str, Any],
    status: str,
    version: int = 1,
    reasons: list[dict[str, Any]] | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """The envelope finance's outbox would send."""
    return {
        "message_id": message_id or str(uuid.uuid4()),
        "name": "documents.set_review_status",
        "version": 1,
        "correlation_id": None,
        "payload": {
            "document_id": doc["id"],
            "version": version,
            "tenant_id": doc["tenant_id"],
            "status": status,
            "reasons": REASONS if reasons is None else reasons,
            "decided_at": datetime.now(UTC).isoformat(),
        },
    }


def send(runtime: Any, envelope: dict[str, Any]) -> None:
    runtime.celery.send_task(
        "documents.set_review_status", kwargs={"message": envelope}, queue="documents", task_id=envelope["message_id"]
    )


def history(runtime: Any, document_id: str) -> list[Any]:
    with runtime.db.session() as s:
        return list(
            s.execute(
                select(StatusChange).where(StatusChange.document_id == uuid.UUID(document_id)).order_by(StatusChange.id)
            ).scalars()
        )


def processed(runtime: Any, message_id: str) -> int:
    with runtime.db.session() as s:
        table = MESSAGING.processed
        return int(
            s.execute(select(func.count()).select_from(table).where(table.c.message_id == message_id)).scalar_one()
        )


def status(runtime: Any, document_id: str) -> str:
    with runtime.db.session() as s:
        doc = s.get(Document, uuid.UUID(document_id))
        assert doc is not None
        return doc.status


def test_a_verdict_delivered_twice_changes_the_status_and_the_history_once(
    documents, docs_runtime, school_world, documents_worker
):
    coordinator = school_world["coordinator"]
    doc = upload(documents, coordinator, samples.pdf(), **expense_form()).json
    needs_fix = verdict(doc, "needs_fix")
    send(docs_runtime, needs_fix)
    send(docs_runtime, needs_fix)  # at-least-once delivery: the same message again
    wait_for(lambda: status(docs_runtime, doc["id"]) == "needs_fix", timeout=30, message="the verdict to apply")
    wait_for(
        lambda: "message_duplicate_skipped" in documents_worker.log_text(),
        timeout=15,
        message="the second delivery to be skipped",
    )
    entries = history(docs_runtime, doc["id"])
    assert [(h.source, h.from_status, h.to_status) for h in entries] == [
        ("upload", None, "received"),
        ("finance", "queued", "needs_fix"),  # its check was with finance's queue
    ]
    assert entries[1].reasons == REASONS and entries[1].message_id == needs_fix["message_id"]
    assert processed(docs_runtime, needs_fix["message_id"]) == 1
    # one audit record of the system's decision, carrying the message it came from
    with docs_runtime.db.session() as s:
        audits = s.execute(
            select(AuditEvent).where(AuditEvent.action == "document.review_status_set").order_by(AuditEvent.id)
        ).scalars()
        [(actor, target, request_id, details)] = [(a.actor_id, a.target_id, a.request_id, a.details) for a in audits]
    assert (actor, target, request_id) == (None, doc["id"], needs_fix["message_id"])
    assert details == {"version": 1, "status": "needs_fix", "applied": True, "rules": ["amount.within_cap"]}
    shown = documents.get(f"/documents/{doc['id']}/history", headers=coordinator["headers"]).json
    assert shown[-1]["reasons"][1]["explanation_lv"].startswith("Summa pārsniedz")
    assert documents.get(f"/documents/{doc['id']}", headers=coordinator["headers"]).json["status"] == "needs_fix"

    # the same verdict resent under a new message id is no new fact either
    send(docs_runtime, verdict(doc, "needs_fix"))
    # a fixed version: status back to received; a late verdict on version 1 is kept but changes nothing
    upload(documents, coordinator, samples.pdf(marker="labots"), path=f"/documents/{doc['id']}/versions", amount="2.90")
    late = verdict(doc, "rejected", version=1)
    send(docs_runtime, late)
    wait_for(lambda: processed(docs_runtime, late["message_id"]) == 1, timeout=30, message="the late verdict")
    accepted = verdict(doc, "accepted", version=2, reasons=[{**REASONS[1], "outcome": "pass"}])
    send(docs_runtime, accepted)
    wait_for(lambda: status(docs_runtime, doc["id"]) == "accepted", timeout=30, message="the verdict on v2")
    entries = history(docs_runtime, doc["id"])
    assert [(h.version, h.to_status, h.applied) for h in entries] == [
        (1, "received", True),
        (1, "needs_fix", True),
        (2, "received", True),
        (1, "rejected", False),
        (2, "accepted", True),
    ]


def test_a_document_says_where_it_is_received_then_queued_for_finance_then_the_verdict(
    documents, docs_runtime, school_world, documents_worker, monkeypatch
):
    """`received` while its check has not reached the broker (here: the broker refused it once), `queued` once it
    has, then finance's verdict; a kind finance does not check stays `received`."""
    coordinator = school_world["coordinator"]
    headers = coordinator["headers"]

    def broker_away(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker is away")

    with monkeypatch.context() as m:
        m.setattr(docs_runtime.celery, "send_task", broker_away)
        answer = upload(documents, coordinator, samples.pdf(), **expense_form())
    assert answer.status_code == 201 and answer.json["status"] == "received"
    doc = answer.json
    assert documents.get(f"/documents/{doc['id']}", headers=headers).json["status"] == "received"
    # the worker's outbox relay sends it after its backoff
    wait_for(lambda: status(docs_runtime, doc["id"]) == "queued", timeout=30, message="the check handed over")
    waiting = documents.get("/documents?status=queued", headers=headers).json["items"]
    assert [d["id"] for d in waiting] == [doc["id"]]
    statement = upload(
        documents, school_world["accountant"], samples.pdf(marker="pārskats"), kind="statement", month="2026-10"
    ).json  # a kind nobody checks
    reader = school_world["accountant"]["headers"]
    assert documents.get(f"/documents/{statement['id']}", headers=reader).json["status"] == "received"

    send(docs_runtime, verdict(doc, "accepted", reasons=[{**REASONS[1], "outcome": "pass"}]))
    wait_for(lambda: status(docs_runtime, doc["id"]) == "accepted", timeout=30, message="the verdict")
    # a late note that the check was handed over never undoes a verdict
    with docs_runtime.db.engine.begin() as conn:
        review.checks_queued(conn, [_sent(doc)])
    assert status(docs_runtime, doc["id"]) == "accepted"


def _sent(doc: dict[str, Any]) -> Any:
    from types import SimpleNamespace

    payload = {"document_id": doc["id"], "version": 1}
    return SimpleNamespace(task_name="finance.check_expense_document", payload=payload)


def test_a_verdict_for_a_document_of_another_tenant_is_a_dead_letter_not_a_change(
    documents, docs_runtime, school_world, documents_worker
):
    doc = upload(documents, school_world["coordinator"], samples.pdf(), **expense_form()).json
    forged = verdict({**doc, "tenant_id": school_world["other_tenant"]["id"]}, "accepted")
    send(docs_runtime, forged)

    def dead_lettered() -> bool:
        with docs_runtime.db.session() as s:
            table = MESSAGING.dead_letters
            return s.execute(select(table).where(table.c.message_id == forged["message_id"])).first() is not None

    wait_for(dead_lettered, timeout=30, message="the forged verdict to be dead-lettered")
    assert status(docs_runtime, doc["id"]) == "queued"  # still waiting for finance's own verdict


def test_plans_verdict_on_an_application_is_kept_as_plans_own(documents, docs_runtime, school_world, documents_worker):
    """Issue 13: plans decides whether an application fits its plan; the history says plans decided."""
    coordinator = school_world["coordinator"]
    form = {"kind": "application", "student_id": str(uuid.uuid4()), "plan_id": str(uuid.uuid4())}
    doc = upload(
        documents, coordinator, samples.pdf(), "iesniegums.pdf", **form, signer="parent", signed_on="2026-09-02"
    )
    fits = [{**REASONS[0], "rule_id": "application.on_file", "explanation_en": "The application is on file."}]
    message = verdict(doc.json, "accepted", reasons=fits)
    message["payload"]["source"] = "plans"
    send(docs_runtime, message)
    wait_for(lambda: status(docs_runtime, doc.json["id"]) == "accepted", timeout=30, message="plans' verdict")
    assert [(h.source, h.to_status) for h in history(docs_runtime, doc.json["id"])] == [
        ("upload", "received"),
        ("plans", "accepted"),
    ]
