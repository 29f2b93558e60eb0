"""Reading a student list: CSV (UTF-8, ';' or ',') or XLSX, headers in Latvian or English, cells to
typed values. No database and no rules here; the importer checks the rows.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.common.errors import ApiError

from .student_rules import PROGRAMMES

# canonical field -> accepted headers (Latvian first; compared case-, accent- and spacing-blind)
COLUMNS: dict[str, tuple[str, ...]] = {
    "first_name": ("vārds", "first_name", "firstname", "given_name"),
    "last_name": ("uzvārds", "last_name", "lastname", "surname", "family_name"),
    "personal_code": ("personas_kods", "personal_code", "pk"),
    "student_id_code": ("skolēna_id", "izglītojamā_id", "student_id", "student_id_code", "id_kods"),
    "grade": ("klase", "grade", "class"),
    "course": ("kurss", "course"),
    "birth_date": ("dzimšanas_datums", "birth_date", "date_of_birth", "dob"),
    "declared_municipality": ("deklarētā_dzīvesvieta", "declared_municipality", "declared_residence"),
    "actual_municipality": ("faktiskā_dzīvesvieta", "actual_municipality", "actual_residence"),
    "programme": ("programma", "programme", "program"),
}
# each group needs one of its columns
REQUIRED: tuple[tuple[str, ...], ...] = (
    ("first_name",),
    ("last_name",),
    ("personal_code", "student_id_code"),
    ("grade", "course"),
    ("declared_municipality",),
    ("actual_municipality",),
)
# a programme cell, folded like a header
PROGRAMME_WORDS = {
    "vispareja": "general",
    "visparejas_izglitiba": "general",
    "profesionala": "vocational",
    "profesionala_izglitiba": "vocational",
    "talakizglitiba": "further_training",
    "pilnveide": "further_training",
    "profesionala_pilnveide": "further_training",
    **{p: p for p in PROGRAMMES},
}
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
_NUMBER = re.compile(r"^(\d{1,2})\s*\.?\s*[^\W\d_]{0,2}\.?(\s*(klase|kurss))?$", re.IGNORECASE)


def fold(header: str) -> str:
    """A header as compared: lower case, no accents, words joined by '_'."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", header.lower()) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")


ALIASES = {fold(name): f for f, names in COLUMNS.items() for name in names}


def refused(status: int, code: str, detail: str, detail_lv: str, **extra: Any) -> ApiError:
    return ApiError(status, code, detail, detail_lv=detail_lv, **extra)


# ---- reading the file ----------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]  # as written in the file
    header_row: int
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)  # (row number as the user sees it, cells)


def _blank(values: Any) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _table(numbered: Iterator[tuple[int, Any]], max_rows: int) -> Table:
    table: Table | None = None
    for number, values in numbered:
        if _blank(values):
            continue
        if table is None:
            table = Table([("" if v is None else str(v)).strip() for v in values], number)
            continue
        if len(table.rows) >= max_rows:
            raise refused(
                422,
                "import_too_many_rows",
                f"A file holds at most {max_rows} students.",
                f"Failā var būt ne vairāk kā {max_rows} izglītojamie.",
            )
        table.rows.append((number, list(values)))
    if table is None or not table.rows:
        raise refused(422, "import_empty", "The file has no students in it.", "Failā nav neviena izglītojamā.")
    return table


def read_csv(data: bytes, max_rows: int) -> Table:
    """A UTF-8 CSV (a BOM is fine) with ';' or ',' between fields, as sniffed from the header line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refused(
            422,
            "import_encoding",
            "The CSV file is not UTF-8; save it as 'CSV UTF-8'.",
            "CSV fails nav UTF-8 kodējumā; saglabājiet to kā 'CSV UTF-8'.",
        ) from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        return _table(enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1), max_rows)
    except csv.Error:
        raise refused(422, "import_unreadable", "The CSV file cannot be read.", "CSV failu nevar nolasīt.") from None


def read_xlsx(data: bytes, max_rows: int) -> Table:
    """The first sheet of an XLSX workbook, streamed (openpyxl read-only), values not formulas."""
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it ignores
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # a broken archive raises any of a dozen types inside openpyxl
            raise refused(
                422, "import_unreadable", "The XLSX file cannot be read.", "XLSX failu nevar nolasīt."
            ) from None
        try:
            rows = book.worksheets[0].iter_rows(values_only=True) if book.worksheets else iter(())
            return _table(enumerate(rows, start=1), max_rows)
        finally:
            book.close()


def read_table(data: bytes, max_rows: int) -> Table:
    """CSV or XLSX, told apart by the bytes, not the file name."""
    if data.startswith(XLSX_MAGIC):
        return read_xlsx(data, max_rows)
    if data.startswith(XLS_MAGIC):
        raise refused(
            422,
            "import_format",
            "Old .xls files are not read; save the list as XLSX or CSV UTF-8.",
            "Vecie .xls faili netiek nolasīti; saglabājiet sarakstu kā XLSX vai CSV UTF-8.",
        )
    return read_csv(data, max_rows)


# ---- columns and cells ---------------------------------------------------------------------------


def map_columns(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Each known field's column index, and the headers that are not used (e.g. 'skola')."""
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        name = ALIASES.get(fold(header))
        if name is None:
            if header:
                ignored.append(header)
            continue
        if name in found:
            raise refused(
                422,
                "import_columns_duplicate",
                f"Two columns mean the same thing: '{headers[found[name]]}' and '{header}'.",
                f"Divas kolonnas nozīmē vienu un to pašu: '{headers[found[name]]}' un '{header}'.",
                errors={"columns": [headers[found[name]], header]},
            )
        found[name] = index
    missing = [" / ".join(COLUMNS[f][0] for f in group) for group in REQUIRED if not any(f in found for f in group)]
    if missing:
        raise refused(
            422,
            "import_columns_missing",
            "Columns are missing: " + ", ".join(missing) + ".",
            "Trūkst kolonnu: " + ", ".join(missing) + ".",
            errors={"columns": missing},
        )
    return found, ignored


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _number(value: Any) -> int | None:
    if isinstance(value, int | float) and float(value).is_integer():
        return int(value)
    match = _NUMBER.match(str(value).strip())
    return int(match.group(1)) if match else None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%Y."):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


_FORMAT_PROBLEMS = {
    "grade": (
        "grade_format",
        "Not a class number (1-12, e.g. '7' or '7.b').",
        "Nav klases numurs (piem., '7' vai '7.b').",
    ),
    "course": ("course_format", "Not a course number (1-4).", "Nav kursa numurs (1–4)."),
    "birth_date": (
        "birth_date_format",
        "A date as DD.MM.YYYY or YYYY-MM-DD.",
        "Datums formā DD.MM.GGGG vai GGGG-MM-DD.",
    ),
    "programme": (
        "programme_unknown",
        "general, vocational or further_training.",
        "vispārējā, profesionālā vai tālākizglītība.",
    ),
}


def typed_row(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
    """Cells to typed values; the cells that do not parse as (field, code, message, message_lv)."""
    data: dict[str, Any] = {}
    bad: list[tuple[str, str, str, str]] = []
    for name in COLUMNS:
        value = raw.get(name)
        if _cell_text(value) is None:
            data[name] = None
            continue
        if name == "personal_code" and isinstance(value, int | float):
            parsed: Any = str(int(value)).zfill(11)  # a spreadsheet drops a code's leading zero
        elif name in ("grade", "course"):
            parsed = _number(value)
        elif name == "birth_date":
            parsed = _date(value)
        elif name == "programme":
            parsed = PROGRAMME_WORDS.get(fold(str(value)))
        else:
            parsed = _cell_text(value)
        if parsed is None:
            bad.append((name, *_FORMAT_PROBLEMS[name]))
        data[name] = parsed
    return data, bad
