"""A reimbursement statement as CSV, XLSX (openpyxl) and PDF (WeasyPrint).

The CSV is a pure function of the statement's data: the same data gives the same bytes (no time of
generation, rows in a fixed order, amounts with two places, "\\n" line ends); it keeps the contract's codes
for programs. The PDF, the one people read and sign, is a pure function of the data too: categories and
provider types in Latvian with English beside them, the institution and its registration number, the
period, page numbers and the lines a statement submitted for reimbursement is signed on.
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

from services.common.labels import CATEGORY_LABELS, PROVIDER_TYPE_LABELS

SECTIONS = ("claim", "consultation", "preparation")
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
    registration_number: str | None = None  # the institution's, as identity publishes it

    @property
    def period_end(self) -> date:
        following = date(self.month.year + self.month.month // 12, self.month.month % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)

    @property
    def period(self) -> str:
        return f"{self.month:%d.%m.%Y}.–{self.period_end:%d.%m.%Y}."

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

    def by_provider_type(self) -> list[tuple[str, Decimal, Decimal]]:
        """Consultation hours and amounts per provider type."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for x in self.lines:
            if x.section == "consultation":
                hours, amount = out.get(x.reference, (Decimal("0.00"), Decimal("0.00")))
                out[x.reference] = (hours + (x.hours or 0), amount + x.amount)
        return [(p, h, a) for p, (h, a) in sorted(out.items())]

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
    ws.append(["Reģistrācijas Nr. / Registration No.", data.registration_number or UNKNOWN])
    ws.append(["Periods / Period", data.period])
    if data.example_values:
        ws.append(["PARAUGA vērtības / EXAMPLE values: programmas iestatījumi nav oficiāli"])
    ws.append(list(COLUMNS))
    for x in data.lines:
        ws.append(
            [x.section, x.school_id, x.plan_code, x.student_id, x.category, x.reference, x.hours, x.rate, x.amount]
        )
    ws.append(["total", "", "", "", "", "", "", "", data.total])
    cats = wb.create_sheet("Kategorijas")
    cats.append(["category", "Kategorija", "Category", "amount"])
    for category, amount in data.by_category():
        lv, en = CATEGORY_LABELS.get(category, (category, category))
        cats.append([category, lv, en, amount])
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


def listing(
    header: tuple[str, ...],
    rows: list[tuple[str, ...]],
    numbers: int = 1,
    *,
    header_en: tuple[str, ...] | None = None,
) -> str:
    """Rows as aligned columns of monospace text (the last `numbers` columns right-aligned), for the PDF;
    `header_en` is a second header line, the English under the Latvian.

    A statement's lines run to thousands: as an HTML table WeasyPrint lays out, styles and draws every cell
    as a box of its own (about 5 ms a row, a 2 000-claim statement over 10 s); as text, a line is one box.
    """
    heads = [header, *([header_en] if header_en else [])]
    widths = [max(len(c) for c in column) for column in zip(*heads, *rows, strict=True)]
    split = len(header) - numbers

    def line(cells: tuple[str, ...]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:split], widths[:split], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[split:], widths[split:], strict=True)]
        return "  ".join(left + right).rstrip()

    texts = [*(line(h) for h in heads), "  ".join("─" * w for w in widths), *(line(r) for r in rows)]
    # in blocks of a few dozen lines: WeasyPrint handles each line of a block with the rest of the block's
    # text, so one block of thousands of lines costs the square of its length
    blocks = ("\n".join(texts[i : i + LISTING_BLOCK]) for i in range(0, len(texts), LISTING_BLOCK))
    return '<div class="listing">' + "".join(f"<pre>{html.escape(b)}</pre>" for b in blocks) + "</div>"


UNKNOWN = "nav zināms / not known yet"
SIGNATURES = (
    ("Sagatavoja", "Prepared by"),
    ("Apstiprināja", "Approved by"),
)


def _lv(code: str, labels: dict[str, tuple[str, str]] = CATEGORY_LABELS) -> str:
    return labels.get(code, (code, ""))[0]


def _reference(x: Line) -> str:
    """What a line refers to, as people read it: a consultation's provider type by its name, else the id."""
    return _lv(x.reference, PROVIDER_TYPE_LABELS) if x.section == "consultation" else x.reference


def render_pdf(data: StatementData) -> bytes:
    with warnings.catch_warnings():
        # without the HarfBuzz-Subset library WeasyPrint subsets fonts with fontTools and says so at import
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML

    for name in ("fontTools", "weasyprint", "weasyprint.progress"):  # font subsetting logs every glyph at INFO
        logging.getLogger(name).setLevel(logging.WARNING)

    def row(cells: list[str], tag: str = "td") -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    # Latvian in the lines (a line must fit the page); each label's English beside it in the tables below
    lines = listing(
        ("Plāns", "Izglītojamais (ID)", "Kategorija", "Atsauce", "Stundas", "Likme", "Summa"),
        [
            (x.plan_code, x.student_id, _lv(x.category), _reference(x), _n(x.hours), _n(x.rate), _n(x.amount))
            for x in data.lines
        ],
        numbers=3,
        header_en=("Plan", "Student (id)", "Category", "Reference", "Hours", "Rate", "Amount"),
    )
    studs = listing(
        ("Izglītojamais (ID)", "Plāns", "Summa"),
        [(s, p, _n(a)) for s, p, a in data.by_student()],
        header_en=("Student (id)", "Plan", "Amount"),
    )
    cats = "".join(row([*CATEGORY_LABELS.get(c, (c, c)), _n(a)]) for c, a in data.by_category())
    providers = "".join(
        row([*PROVIDER_TYPE_LABELS.get(p, (p, p)), _n(h), _n(a)]) for p, h, a in data.by_provider_type()
    )
    provider_table = (
        "<h2>Konsultācijas pa sniedzēju veidiem / Consultations by provider type</h2><table>"
        + row(["Sniedzēja veids", "Provider type", "Stundas / Hours", "Summa / Amount"], "th")
        + providers
        + "</table>"
        if providers
        else ""
    )
    example = (
        '<p class="example">PARAUGA vērtības: programmas iestatījumi (likmes, limiti) nav oficiāli. / '
        "EXAMPLE values: the programme settings (rates, caps) are not official.</p>"
        if data.example_values
        else ""
    )
    signatures = "".join(
        f'<tr><th>{lv} / {en}</th><td class="blank"></td><td class="hint">vārds, uzvārds, amats / name, '
        'position</td><td class="blank"></td><td class="hint">paraksts / signature</td></tr>'
        for lv, en in SIGNATURES
    )
    signatures += '<tr><th>Datums / Date</th><td class="blank"></td><td colspan="3"></td></tr>'
    title = f"Atmaksas pārskats / Reimbursement statement {data.month:%Y-%m}"
    doc = f"""<!doctype html><html lang="lv"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
      @page {{
        size: A4 landscape; margin: 14mm 12mm;
        @top-left {{ content: "{_css(data.tenant_name)} · {_css(data.period)}"; font: 7.5pt sans-serif; }}
        @bottom-right {{
          content: "Lapa " counter(page) " no " counter(pages) " / Page " counter(page) " of " counter(pages);
          font: 7.5pt sans-serif;
        }}
      }}
      body {{ font-family: sans-serif; font-size: 8.5pt; }}
      table {{ border-collapse: collapse; width: 100%; margin-bottom: 8mm; }}
      th, td {{ border: 0.4pt solid #888; padding: 2pt 4pt; text-align: left; }}
      .facts th, .facts td, .signatures th, .signatures td {{ border: none; }}
      .signatures {{ page-break-inside: avoid; margin-top: 10mm; }}
      .signatures td.blank {{ border-bottom: 0.6pt solid #000; width: 22%; height: 9mm; }}
      .signatures td.hint {{ color: #555; font-size: 7pt; vertical-align: bottom; }}
      .example {{ color: #a00; font-weight: bold; }}
      .listing {{ margin-bottom: 8mm; }}
      .listing pre {{ font-family: monospace; font-size: 7.5pt; line-height: 1.35; margin: 0; }}
    </style></head><body>
      <h1>{html.escape(title)}</h1>
      <table class="facts">
        <tr><th>Iestāde / Institution</th><td>{html.escape(data.tenant_name)}</td></tr>
        <tr><th>Reģistrācijas Nr. / Registration No.</th>
          <td>{html.escape(data.registration_number or UNKNOWN)}</td></tr>
        <tr><th>Periods / Period</th><td>{data.period}</td></tr>
        <tr><th>Identifikators / Id</th><td>{html.escape(data.tenant_id)}</td></tr>
      </table>{example}
      {lines}
      <h2>Pa kategorijām / By category</h2>
      <table>{row(["Kategorija", "Category", "Summa / Amount"], "th")}{cats}</table>
      {provider_table}
      <h2>Pa izglītojamajiem / By student</h2>{studs}
      <p><strong>Kopā / Total: {_n(data.total)} EUR</strong></p>
      <table class="signatures">{signatures}</table>
    </body></html>"""
    return HTML(string=doc).write_pdf()  # type: ignore[no-any-return]


def _css(text: str) -> str:
    """Text safe inside a CSS string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
