"""Reading student lists (CSV and XLSX) and checking their rows, without a database."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import openpyxl
import pytest

from services.common.errors import ApiError
from services.plans import codes
from services.plans.importer import check_rows, safe_filename
from services.plans.student_files import fold, map_columns, read_csv, read_table, read_xlsx, typed_row
from tests.unit.plans.test_student_rules import SETTINGS

pytestmark = pytest.mark.unit

HEADER = "vārds;uzvārds;personas_kods;klase;deklarētā_dzīvesvieta;faktiskā_dzīvesvieta"


def refused(code: str, call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    assert caught.value.code == code, caught.value.code
    return caught.value


def xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "folded"),
    [
        ("Vārds", "vards"),
        ("Personas kods", "personas_kods"),
        (" Dzimšanas-datums ", "dzimsanas_datums"),
        ("DEKLARĒTĀ DZĪVESVIETA", "deklareta_dzivesvieta"),
        ("skolēna_id", "skolena_id"),
    ],
)
def test_headers_are_compared_without_case_accents_or_spacing(header: str, folded: str) -> None:
    assert fold(header) == folded


def test_latvian_and_english_headers_map_to_the_same_fields_and_others_are_ignored() -> None:
    lv = ["Vārds", "Uzvārds", "Personas kods", "Klase", "Deklarētā dzīvesvieta", "Faktiskā dzīvesvieta", "Skola"]
    en = ["first_name", "last_name", "personal_code", "grade", "declared_municipality", "actual_municipality", ""]
    assert map_columns(lv)[0] == map_columns(en)[0]
    assert map_columns(lv)[1] == ["Skola"]
    assert map_columns(en)[1] == []
    vocational = ["vards", "uzvards", "skolena_id", "kurss", "deklareta_dzivesvieta", "faktiska_dzivesvieta"]
    assert set(map_columns(vocational)[0]) == {
        "first_name",
        "last_name",
        "student_id_code",
        "course",
        "declared_municipality",
        "actual_municipality",
    }


def test_missing_and_doubled_columns_refuse_the_file() -> None:
    err = refused("import_columns_missing", map_columns, ["vārds", "uzvārds"])
    assert err.errors == {
        "columns": ["personas_kods / skolēna_id", "klase / kurss", "deklarētā_dzīvesvieta", "faktiskā_dzīvesvieta"]
    }
    refused("import_columns_duplicate", map_columns, ["Vārds", "first name", "uzvārds"])


# ---- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", ","])
def test_a_csv_delimiter_is_sniffed_from_the_header(delimiter: str) -> None:
    text = HEADER.replace(";", delimiter) + "\n" + delimiter.join(["Līga", "Kalniņa", "140312-21007", "7.b", "V", "V"])
    table = read_csv(text.encode(), 10)
    assert table.headers[:2] == ["vārds", "uzvārds"]
    assert table.rows == [(2, ["Līga", "Kalniņa", "140312-21007", "7.b", "V", "V"])]


def test_a_csv_with_a_bom_quotes_and_blank_lines_keeps_spreadsheet_row_numbers() -> None:
    text = "\ufeff" + HEADER + "\r\n\r\n" + '"Anna";"Bērziņa, jun.";x;5;V;V\r\n;;;;;\r\nJānis;Ozols;y;6;V;V\r\n'
    table = read_table(text.encode(), 10)
    assert table.headers[0] == "vārds" and table.header_row == 1
    assert [(n, r[1]) for n, r in table.rows] == [(3, "Bērziņa, jun."), (5, "Ozols")]


def test_a_csv_that_is_not_utf8_or_too_long_or_empty_is_refused() -> None:
    refused("import_encoding", read_csv, (HEADER + "\nAnna;Bērziņa").encode("cp1257"), 10)
    rows = "\n".join([HEADER] + ["a;b;c;1;V;V"] * 3)
    refused("import_too_many_rows", read_csv, rows.encode(), 2)
    assert len(read_csv(rows.encode(), 3).rows) == 3
    refused("import_empty", read_csv, (HEADER + "\n\n").encode(), 10)
    refused("import_empty", read_csv, b"", 10)


# ---- XLSX ---------------------------------------------------------------------------------------


def test_an_xlsx_is_read_from_its_first_sheet_with_row_numbers_and_typed_cells() -> None:
    data = xlsx(
        [
            ["Vārds", "Personas kods", "Dzimšanas datums"],
            ["Anna", 1019011004, datetime(1990, 1, 1)],
            [None, None, None],
            ["Jānis", "140312-21007", "14.03.2012"],
        ]
    )
    table = read_table(data, 10)
    assert table.headers == ["Vārds", "Personas kods", "Dzimšanas datums"]
    assert [(n, r[0]) for n, r in table.rows] == [(2, "Anna"), (4, "Jānis")]
    assert table.rows[0][1][1] == 1019011004


def test_an_xlsx_that_is_broken_or_too_long_is_refused() -> None:
    refused("import_unreadable", read_xlsx, b"PK\x03\x04 broken", 10)
    refused("import_unreadable", read_table, b"PK\x03\x04 broken", 10)
    refused("import_format", read_table, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old xls", 10)
    refused("import_too_many_rows", read_xlsx, xlsx([["Vārds"], ["a"], ["b"], ["c"]]), 2)


# ---- cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "typed", "bad"),
    [
        ({"grade": "7.b"}, {"grade": 7}, []),
        ({"grade": "12 A"}, {"grade": 12}, []),
        ({"grade": 9.0}, {"grade": 9}, []),
        ({"course": "2. kurss"}, {"course": 2}, []),
        ({"grade": "septītā"}, {"grade": None}, ["grade_format"]),
        ({"birth_date": "14.03.2012"}, {"birth_date": date(2012, 3, 14)}, []),
        ({"birth_date": "2012-03-14"}, {"birth_date": date(2012, 3, 14)}, []),
        ({"birth_date": datetime(2012, 3, 14, 0, 0)}, {"birth_date": date(2012, 3, 14)}, []),
        ({"birth_date": "14/03/2012"}, {"birth_date": None}, ["birth_date_format"]),
        ({"personal_code": 1019011004}, {"personal_code": "01019011004"}, []),
        ({"personal_code": 32123456785.0}, {"personal_code": "32123456785"}, []),
        ({"programme": "Profesionālā"}, {"programme": "vocational"}, []),
        ({"programme": "tālākizglītība"}, {"programme": "further_training"}, []),
        ({"programme": "vakara"}, {"programme": None}, ["programme_unknown"]),
        ({"first_name": "  Anna  ", "last_name": ""}, {"first_name": "Anna", "last_name": None}, []),
    ],
)
def test_cells_become_typed_values_or_a_format_problem(
    cells: dict[str, Any], typed: dict[str, Any], bad: list[str]
) -> None:
    data, problems = typed_row(cells)
    assert {k: data[k] for k in typed} == typed
    assert [p[1] for p in problems] == bad


# ---- rows ---------------------------------------------------------------------------------------


def test_rows_are_checked_with_the_apis_rules_and_the_valid_ones_staged_without_clear_codes() -> None:
    text = "\n".join(
        [
            HEADER + ";skola;dzimšanas_datums",
            "Līga;Kalniņa;140312-21007;7;V;V;X;",
            "Jānis;Ozols;140312-21008;x;V;;;",
            "Anna;Liepa;32123456784;5;V;V;;02.05.2011",
            "Līga;Kalniņa;14031221007;7;V;V;;",
            "Rūta;Egle;32123456785;5;V;V;;",
        ]
    )
    parsed = check_rows(read_csv(text.encode(), 10), SETTINGS)
    assert parsed.rows_total == 5
    errors = [(p["row"], p["column"], p["code"]) for p in parsed.problems if p["severity"] == "error"]
    assert errors == [
        (3, "klase", "grade_format"),
        (3, "faktiskā_dzīvesvieta", "required"),
        (3, "personas_kods", "personal_code_checksum"),
        (5, "personas_kods", "duplicate_in_file"),
        (6, "dzimšanas_datums", "birth_date_required"),
    ]
    warnings = [(p["row"], p["column"], p["code"]) for p in parsed.problems if p["severity"] == "warning"]
    assert warnings == [(1, "skola", "column_ignored"), (4, "personas_kods", "personal_code_checksum")]
    assert [r["row"] for r in parsed.staged] == [2, 4]
    first = parsed.staged[0]
    assert first["code_hash"] == codes.code_hash("unit-secret", "personal_code", "14031221007")
    assert codes.decrypt(SETTINGS.personal_code_key, first["code_encrypted"]) == "14031221007"
    assert first["birth_date"] == "2012-03-14"
    visible = repr(parsed.problems) + repr(
        [{k: v for k, v in r.items() if k != "code_encrypted"} for r in parsed.staged]
    )
    for secret in ("14031221007", "140312-21007", "14031221008", "32123456784"):
        assert secret not in visible


def test_a_file_name_never_carries_a_code() -> None:
    assert safe_filename("C:\\Users\\x\\140312-21007 saraksts.csv") == "*** saraksts.csv"
    assert safe_filename("../../14031221007.xlsx") == "***.xlsx"
    assert safe_filename(None) == "upload"
    assert len(safe_filename("a" * 500)) == 200
