"""A reimbursement statement as CSV, XLSX (openpyxl) and PDF (WeasyPrint).

The CSV is a pure function of the statement's data: the same data gives the same bytes (no time of
generation, rows in a fixed order, amounts with two places, "\\n" line ends).
"""

from __future__ import annotations

import csv
import html
import io
import logging
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

SECTIONS = ("claim", "consultation", "preparation")
SECTION_LV = {"claim": "Kompensācija", "consultation": "Konsultācijas", "preparation": "Plāna sagatavošana"}
COLUMNS = ("section", "school_id", "plan_code", "student_id", "category", "reference", "hours", "rate", "amount")


@dataclass(frozen=True)
class Line:
    section: str  # claim | consultation | preparation
    school_id: str
    plan_code: str
    student_id: str
    category: str
    reference: str  # the document of a claim, the provider type of consultations
    hours: Decimal | None
    rate: Decimal | None
    amount: Decimal

    def key(self) -> tuple[object, ...]:
        return (
            SECTIONS.index(self.section),
            self.school_id,
            self.plan_code,
            self.category,
            self.reference,
            self.rate or Decimal(0),
            self.amount,
        )


@dataclass
class StatementData:
    tenant_id: str
    tenant_name: str
    month: date
    lines: list[Line] = field(default_factory=list)
    example_values: bool = False

    def __post_init__(self) -> None:
        self.lines = sorted(self.lines, key=Line.key)

    @property
    def total(self) -> Decimal:
        return sum((x.amount for x in self.lines), Decimal("0.00"))

    def by_category(self) -> list[tuple[str, Decimal]]:
        out: dict[str, Decimal] = {}
        for x in self.lines:
            out[x.category] = out.get(x.category, Decimal("0.00")) + x.amount
        return sorted(out.items())

    def by_student(self) -> list[tuple[str, str, Decimal]]:
        out: dict[tuple[str, str], Decimal] = {}
        for x in self.lines:
            k = (x.student_id, x.plan_code)
            out[k] = out.get(k, Decimal("0.00")) + x.amount
        return [(s, p, a) for (s, p), a in sorted(out.items())]

    def totals(self) -> dict[str, object]:
        return {
            "by_category": {c: str(a) for c, a in self.by_category()},
            "by_student": [{"student_id": s, "plan_code": p, "amount": str(a)} for s, p, a in self.by_student()],
            "lines": len(self.lines),
            "example_values": self.example_values,
        }


def _n(d: Decimal | None) -> str:
    return "" if d is None else f"{d:.2f}"


def render_csv(data: StatementData) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for x in data.lines:
        w.writerow(
            (
                x.section,
                x.school_id,
                x.plan_code,
                x.student_id,
                x.category,
                x.reference,
                _n(x.hours),
                _n(x.rate),
                _n(x.amount),
            )
        )
    for category, amount in data.by_category():
        w.writerow(("total_category", "", "", "", category, "", "", "", _n(amount)))
    for student, plan, amount in data.by_student():
        w.writerow(("total_student", "", plan, student, "", "", "", "", _n(amount)))
    w.writerow(("total", "", "", "", "", "", "", "", _n(data.total)))
    return buf.getvalue().encode("utf-8")


def render_xlsx(data: StatementData) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    fixed = datetime(data.month.year, data.month.month, 1)  # workbook properties are naive
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "PuMPuRS finance"
    ws = wb.active
    assert ws is not None
    ws.title = "Rindas"
    ws.append([f"Atmaksas pārskats / Reimbursement statement {data.month:%Y-%m}", data.tenant_name])
    if data.example_values:
        ws.append(["PARAUGA vērtības / EXAMPLE values: programmas iestatījumi nav oficiāli"])
    ws.append(list(COLUMNS))
    for x in data.lines:
        ws.append(
            [x.section, x.school_id, x.plan_code, x.student_id, x.category, x.reference, x.hours, x.rate, x.amount]
        )
    ws.append(["total", "", "", "", "", "", "", "", data.total])
    cats = wb.create_sheet("Kategorijas")
    cats.append(["category", "amount"])
    for category, amount in data.by_category():
        cats.append([category, amount])
    studs = wb.create_sheet("Izglītojamie")
    studs.append(["student_id", "plan_code", "amount"])
    for student, plan, amount in data.by_student():
        studs.append([student, plan, amount])
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, Decimal):
                    cell.number_format = "0.00"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


LISTING_BLOCK = 40


def listing(header: tuple[str, ...], rows: list[tuple[str, ...]], numbers: int = 1) -> str:
    """Rows as aligned columns of monospace text (the last `numbers` columns right-aligned), for the PDF.

    A statement's lines run to thousands: as an HTML table WeasyPrint lays out, styles and draws every cell
    as a box of its own (about 5 ms a row, a 2 000-claim statement over 10 s); as text, a line is one box.
    """
    widths = [max(len(c) for c in column) for column in zip(header, *rows, strict=True)]
    split = len(header) - numbers

    def line(cells: tuple[str, ...]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:split], widths[:split], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[split:], widths[split:], strict=True)]
        return "  ".join(left + right).rstrip()

    texts = [line(header), "  ".join("─" * w for w in widths), *(line(r) for r in rows)]
    # in blocks of a few dozen lines: WeasyPrint handles each line of a block with the rest of the block's
    # text, so one block of thousands of lines costs the square of its length
    blocks = ("\n".join(texts[i : i + LISTING_BLOCK]) for i in range(0, len(texts), LISTING_BLOCK))
    return '<div class="listing">' + "".join(f"<pre>{html.escape(b)}</pre>" for b in blocks) + "</div>"


def render_pdf(data: StatementData) -> bytes:
    with warnings.catch_warnings():
        # without the HarfBuzz-Subset library WeasyPrint subsets fonts with fontTools and says so at import
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML

    for name in ("fontTools", "weasyprint", "weasyprint.progress"):  # font subsetting logs every glyph at INFO
        logging.getLogger(name).setLevel(logging.WARNING)

    def row(cells: list[str], tag: str = "td") -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    lines = listing(
        ("Sadaļa", "Plāns", "Izglītojamais (ID)", "Kategorija", "Atsauce", "Stundas", "Likme", "Summa"),
        [
            (
                SECTION_LV.get(x.section, x.section),
                x.plan_code,
                x.student_id,
                x.category,
                x.reference,
                _n(x.hours),
                _n(x.rate),
                _n(x.amount),
            )
            for x in data.lines
        ],
        numbers=3,
    )
    studs = listing(("Izglītojamais (ID)", "Plāns", "Summa"), [(s, p, _n(a)) for s, p, a in data.by_student()])
    cats = "".join(row([c, _n(a)]) for c, a in data.by_category())
    example = (
        '<p class="example">PARAUGA vērtības: programmas iestatījumi (likmes, limiti) nav oficiāli. / '
        "EXAMPLE values: the programme settings (rates, caps) are not official.</p>"
        if data.example_values
        else ""
    )
    doc = f"""<!doctype html><html lang="lv"><head><meta charset="utf-8"><style>
      @page {{ size: A4 landscape; margin: 12mm; }}
      body {{ font-family: sans-serif; font-size: 8.5pt; }}
      table {{ border-collapse: collapse; width: 100%; margin-bottom: 8mm; }}
      th, td {{ border: 0.4pt solid #888; padding: 2pt 4pt; text-align: left; }}
      .example {{ color: #a00; font-weight: bold; }}
      .listing {{ margin-bottom: 8mm; }}
      .listing pre {{ font-family: monospace; font-size: 7.5pt; line-height: 1.35; margin: 0; }}
    </style></head><body>
      <h1>Atmaksas pārskats / Reimbursement statement {data.month:%Y-%m}</h1>
      <p>{html.escape(data.tenant_name)} ({html.escape(data.tenant_id)})</p>{example}
      {lines}
      <h2>Pa kategorijām / By category</h2><table>{row(["Kategorija", "Summa"], "th")}{cats}</table>
      <h2>Pa izglītojamajiem / By student</h2>{studs}
      <p><strong>Kopā / Total: {_n(data.total)} EUR</strong></p>
    </body></html>"""
    return HTML(string=doc).write_pdf()  # type: ignore[no-any-return]
