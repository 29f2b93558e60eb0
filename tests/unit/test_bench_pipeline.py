"""The upload-to-verdict benchmark's own logic (no servers): its throughput target, the memory rows, the
receipts it uploads and the claims it makes, which must each be accepted, never a duplicate."""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal

import pytest

from bench.core import MB, MemoryWatch, Row, RssSampler, Target, table
from bench.pipeline_world import CATEGORIES, COMBOS, MONTHS, PLANNED, SEMESTER, Receipts, World, snapshot
from services.documents import filecheck
from services.documents.kinds import KINDS

pytestmark = pytest.mark.unit


def test_a_throughput_target_is_met_at_or_above_its_share_of_the_baseline():
    share = Target(min_ratio=0.4)
    enough = Row("g", "throughput", 40.0, "docs/s", 100.0, "bare", share)
    short = Row("g", "throughput", 39.0, "docs/s", 100.0, "bare", share)
    assert enough.met is True and short.met is False
    assert Row("g", "throughput", 40.0, "docs/s", None, "", share).met is None  # no baseline, no verdict
    text = table([short])
    assert "≥ 0.4×" in text and "MISSED" in text


def test_memory_rows_give_each_role_its_largest_process_and_count_the_processes_over_the_limit():
    watch = MemoryWatch([])
    api, worker = RssSampler(0), RssSampler(0)
    api.peaks = {11: 120 * MB, 12: 310 * MB, 13: 90 * MB}
    worker.peaks = {21: 100 * MB}
    watch.samplers = {"documents-api": api, "finance-worker": worker}
    watch.idle = {"documents-api": {11: 80 * MB, 12: 100 * MB}, "finance-worker": {21: 95 * MB}}
    rows = {r.metric: r for r in watch.rows("memory")}
    big = rows["documents-api: largest of 3 processes, peak RSS"]
    assert (big.value, big.baseline, big.met) == (310.0, 100.0, False)
    assert rows["finance-worker: largest of 1 processes, peak RSS"].met is True
    over = rows["processes above 300 MB (of 4)"]
    assert over.value == 1 and over.met is False
    assert watch.note().endswith("documents-api 310/120/90; finance-worker 100")


def test_each_receipt_is_a_pdf_of_about_100_kb_that_documents_accepts_with_bytes_of_its_own():
    receipts = Receipts()
    # uploads are numbered 1, 2, ... (fresh), the world's attestations -1, -2, ...
    first, second, attestation = receipts.fresh(), receipts.fresh(), receipts.make(-1)
    assert 100_000 <= len(first) == len(second) <= 110_000
    checked = [
        filecheck.inspect_file(
            io.BytesIO(data), filename="kvits.pdf", allowed=KINDS["expense_receipt"].media_types, max_bytes=2**24
        )
        for data in (first, second, attestation, receipts.make(-2), receipts.fresh())
    ]
    assert {c.media_type for c in checked} == {"application/pdf"}
    assert len({c.sha256 for c in checked}) == 5  # no upload is a duplicate of another


def test_every_upload_claims_its_own_student_category_and_month_within_the_plan_and_the_caps():
    clients, per_client = 3, 30
    students = -(-per_client // len(COMBOS))
    plans = [[snapshot("t", "s") for _ in range(students)] for _ in range(clients)]
    world = World("t", "s", "token", plans)
    claims = [world.claim(c, n) for c in range(clients) for n in range(per_client)]
    assert len({(f["student_id"], f["category"], f["month"]) for f in claims}) == len(claims)
    by_student = {p["student_id"]: p for mine in plans for p in mine}
    totals: Counter[tuple[str, str]] = Counter()
    for f in claims:
        plan = by_student[f["student_id"]]
        assert f["plan_id"] == plan["plan_id"] and plan["status"] == "in_progress"
        assert f["category"] in CATEGORIES and f["month"] in MONTHS
        assert SEMESTER[1][:7] <= f["month"] <= SEMESTER[2][:7]
        amount = Decimal(f["amount"])
        assert Decimal("0") < amount <= Decimal("60.00")  # the smallest monthly cap of the three (EXAMPLE values)
        totals[(f["plan_id"], f["category"])] += amount  # type: ignore[assignment]
    assert max(totals.values()) <= Decimal(PLANNED)
