"""A tenant's monthly reimbursement statement with 2 000 accepted claims, through finance's own code.

Seeds finance's database (its migrations, its example settings by its own seed function, the tenant
and plans as its read models hold them, 2 000 accepted claims of one month, rows shaped by its models)
and times, each a few times (median):

- the whole build as the API and the scheduled job run it (statements.build: the lines from the
  database, CSV, XLSX and PDF, each staged in S3, the messages to documents and notifications), in a
  transaction rolled back after each run so every run builds anew;
- its parts: the lines (compute) and each format's render from them.

Baselines in the same run, on the same lines: the csv module writing the rows as they come (for CSV),
an openpyxl write-only workbook of the same cells (XLSX), and WeasyPrint rendering a one-page document
(PDF: the fixed cost of a render, so the ratio is what the 2 000 rows add). The target is absolute:
each format, and the whole build, under 10 s.
"""

from __future__ import annotations

import csv
import io
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .core import Benchmark, Context, Row, Target, log, scrubbed_environ, sqlalchemy_url

GROUP = "statements"
UNDER_10_S = Target(max_value=10.0)
CATEGORIES = ("public_transport", "learning_materials", "accommodation", "meals", "personal_items")


def run(ctx: Context) -> list[Row]:
    from services.common import migrate

    claims = 2000
    repeats = ctx.scale(3, 2)
    url = sqlalchemy_url(ctx.create_database("finance_statements"))
    migrate.upgrade("finance", url)
    month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    runtime = _runtime(ctx, url)
    try:
        tenant_id = seed(ctx, url, runtime, claims, month)
        log(f"statements: {claims} accepted claims of {month:%Y-%m} seeded; building {repeats} times")
        return measure(ctx, runtime, tenant_id, month, claims, repeats)
    finally:
        runtime.db.dispose()


def _runtime(ctx: Context, url: str) -> Any:
    from services.finance.runtime import make_runtime
    from services.finance.settings import load_finance_settings

    s = ctx.servers
    with scrubbed_environ(
        FINANCE_DATABASE_URL=url,
        REDIS_URL=ctx.redis_url(4),
        S3_ENDPOINT_URL=s["S3_ENDPOINT_URL"],
        S3_ACCESS_KEY=s["S3_ACCESS_KEY"],
        S3_SECRET_KEY=s["S3_SECRET_KEY"],
        DOCUMENTS_BUCKET="pumpurs-bench-statements",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="console",
    ):
        settings = load_finance_settings()
    runtime = make_runtime(settings)
    runtime.outbox.relay = lambda ids=None, limit=200: 0  # type: ignore[method-assign]  # no consumers here
    return runtime


def seed(ctx: Context, url: str, runtime: Any, claims: int, month: date) -> uuid.UUID:
    """The example settings (finance's seed function), one tenant and school, a plan per five claims,
    and the claims, accepted; the bucket documents would own, for the staged files."""
    import psycopg

    from services.finance import models as m
    from services.finance import settings_changes

    from .national_seed import copy_rows, plain_url, table

    with runtime.db.session() as session:
        settings_changes.seed(session, runtime.outbox)
    client, bucket = runtime.staging.client, runtime.staging.bucket
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    tenant_id, school_id = uuid.uuid4(), uuid.uuid4()
    at = datetime.combine(month, datetime.min.time(), UTC)
    plans = [uuid.uuid4() for _ in range(claims // 5)]
    uploader = uuid.uuid4()
    with psycopg.connect(plain_url(url)) as conn:
        copy_rows(
            conn,
            table(m.TenantRM),
            [
                {
                    "id": tenant_id,
                    "kind": "municipality",
                    "name": "Novads 000",
                    "region": "kurzeme",
                    "student_count": 4000,
                    "active": True,
                    "revision": 1,
                }
            ],
        )
        copy_rows(
            conn,
            table(m.PlanRM),
            (
                {
                    "id": plan_id,
                    "revision": 5,
                    "code": f"IAP-2026/2027-1-{n:06X}",
                    "tenant_id": tenant_id,
                    "school_id": school_id,
                    "student_id": uuid.uuid4(),
                    "student_key": f"{n:064x}",
                    "semester": "2026/2027-1",
                    "semester_start": date(2026, 9, 1),
                    "semester_end": date(2026, 12, 22),
                    "status": "in_progress",
                    "prepared_on": date(2026, 9, 10),
                    "preparation_hours": Decimal("4"),
                    "planned_financing": Decimal("600.00"),
                    "measures": [],
                    "started_on": date(2026, 9, 20),  # before the month: no preparation lines in it
                    "paid_so_far": Decimal("0.00"),
                    "paid_revision": 0,
                    "updated_at": at,
                }
                for n, plan_id in enumerate(plans)
            ),
        )
        students: dict[uuid.UUID, uuid.UUID] = dict(conn.execute("SELECT id, student_id FROM plans_rm").fetchall())
        copy_rows(
            conn,
            table(m.Claim),
            (
                {
                    "id": uuid.uuid4(),
                    "document_id": uuid.uuid4(),
                    "version": 1,
                    "line": 1,
                    "tenant_id": tenant_id,
                    "school_id": school_id,
                    "plan_id": plans[n % len(plans)],
                    "student_id": students[plans[n % len(plans)]],
                    "student_key": f"{n % len(plans):064x}",
                    "kind": "expense_receipt",
                    "category": CATEGORIES[n % len(CATEGORIES)],
                    "month": month,
                    "amount": Decimal(5 + n % 120) + Decimal("0.35"),
                    "sha256": f"{n + 1:064x}",
                    "duplicate_in_tenant": False,
                    "uploaded_by": uploader,
                    "uploaded_at": at + timedelta(days=3, minutes=n),
                    "status": m.ACCEPTED,
                    "superseded": False,
                    "settings_revision": 1,
                    "runs": 1,
                    "checked_at": at + timedelta(days=3, minutes=n + 1),
                    "created_at": at + timedelta(days=3, minutes=n),
                }
                for n in range(claims)
            ),
        )
        conn.commit()
        conn.execute("ANALYZE claims")
        conn.execute("ANALYZE plans_rm")
    return tenant_id


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median of `repeats` runs, in seconds, and the last result."""
    seconds, _cpu, result = _timed_cpu(fn, repeats)
    return seconds, result


def _timed_cpu(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """The median wall and CPU (this process) seconds of `repeats` runs, and the last result."""
    times, cpu, result = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu), result


def measure(ctx: Context, runtime: Any, tenant_id: uuid.UUID, month: date, claims: int, repeats: int) -> list[Row]:
    from services.finance import render, statements

    def build() -> Any:
        session = runtime.db.sessionmaker()
        try:
            statement, new = statements.build(
                session, runtime.outbox, runtime.staging, tenant_id, month, trigger="on_demand"
            )
            assert new, "every run builds anew (the one before was rolled back)"
            return {f.format: f.size for f in statement.files}
        finally:
            session.rollback()
            session.close()

    def compute() -> Any:
        with runtime.db.session() as session:
            return statements.compute(session, tenant_id, month)

    # WeasyPrint says at each render that it subsets fonts with fontTools (no HarfBuzz-Subset here)
    logging.getLogger("weasyprint").addFilter(lambda r: "HarfBuzz" not in r.getMessage())
    render.render_pdf(render.StatementData("warm", "warm", month, []))  # WeasyPrint's first use loads fonts
    whole, whole_cpu, sizes = _timed_cpu(build, repeats)
    lines_s, data = _timed(compute, repeats)
    if len(data.lines) != claims:
        raise RuntimeError(f"the statement has {len(data.lines)} lines, not the {claims} claims seeded")
    csv_s, _ = _timed(lambda: render.render_csv(data), repeats)
    xlsx_s, _ = _timed(lambda: render.render_xlsx(data), repeats)
    pdf_s, pdf_cpu, _ = _timed_cpu(lambda: render.render_pdf(data), repeats)
    log(f"statements: build {whole:.2f}s; lines {lines_s:.3f}s, csv {csv_s:.3f}s, xlsx {xlsx_s:.2f}s, pdf {pdf_s:.2f}s")

    cells = [
        [x.section, x.school_id, x.plan_code, x.student_id, x.category, x.reference, x.hours, x.rate, x.amount]
        for x in data.lines
    ]
    base_csv, _ = _timed(lambda: _plain_csv(cells), repeats)
    base_xlsx, _ = _timed(lambda: _plain_xlsx(cells), repeats)
    base_pdf, _ = _timed(_one_page_pdf, repeats)

    group = f"{GROUP}: a tenant month of {claims} accepted claims"
    size = ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in sorted(sizes.items()))
    return [
        Row(
            group,
            "whole build (lines, CSV, XLSX, PDF, staged in S3)",
            whole,
            "s",
            lines_s + csv_s + xlsx_s + pdf_s,
            "sum of the parts",
            target=UNDER_10_S,
            note=f"statements.build as the API and the scheduled job run it, median of {repeats} "
            f"({whole_cpu:.1f} s of CPU in this process); files: {size}",
        ),
        Row(group, "lines from the database (compute)", lines_s, "s", None),
        Row(group, "CSV render", csv_s, "s", base_csv, "csv module, same rows", target=UNDER_10_S),
        Row(group, "XLSX render", xlsx_s, "s", base_xlsx, "openpyxl write-only, same cells", target=UNDER_10_S),
        Row(
            group,
            "PDF render",
            pdf_s,
            "s",
            base_pdf,
            "WeasyPrint, one page",
            target=UNDER_10_S,
            note=f"PDF: {pdf_cpu:.1f} s of CPU; the ratio is what the rows add to WeasyPrint's fixed cost of a render",
        ),
    ]


def _plain_csv(cells: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(cells)
    return buf.getvalue().encode()


def _plain_xlsx(cells: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    for row in cells:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _one_page_pdf() -> bytes:
    from weasyprint import HTML

    return HTML(string="<html><body><h1>Atmaksas pārskats</h1><p>Kopā: 0.00 EUR</p></body></html>").write_pdf()  # type: ignore[no-any-return]


BENCHMARK = Benchmark(
    name="statements",
    title="a 2 000-claim monthly statement through finance's own code: CSV, XLSX, PDF and the whole build",
    servers=("postgres", "redis", "s3"),
    run=run,
)
