"""Student lists imported through the plans API: preview with errors by row and column (CSV and XLSX),
commit once, the same file again creating nothing twice, limits, and who may import where."""

from __future__ import annotations

import dataclasses
import io
from datetime import date
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from services.plans.models import AuditEvent, Student, StudentImport, TimelineEvent
from tests.integration.plans.conftest import (
    ADULT_CODE,
    MINOR_CODE,
    NEW_FORMAT_BAD_CHECK,
    NEW_FORMAT_CODE,
    OTHER_MINOR_CODE,
)

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
HEADER_LV = ["Vārds", "Uzvārds", "Personas kods", "Klase", "Dzimšanas datums", "Deklarētā dzīvesvieta"]
HEADER_LV += ["Faktiskā dzīvesvieta", "Skola"]  # the school is chosen in the request: this column is ignored


def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    assert resp.json["code"] == code, resp.json
    return resp.json


def csv_bytes(rows: list[list[Any]], delimiter: str = ";") -> bytes:
    return ("\n".join(delimiter.join("" if v is None else str(v) for v in row) for row in rows) + "\n").encode()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: Any, user: dict[str, Any], school: str, data: bytes, name: str = "skoleni.csv") -> Any:
    return client.post(
        f"/students/imports?school_id={school}",
        headers=user["headers"],
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def count(runtime: Any, model: Any, *where: Any) -> int:
    with runtime.db.session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def by_row(preview: dict[str, Any]) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for e in preview["errors"]:
        out.setdefault(e["row"], []).append((e["column"], e["code"]))
    return out


MIXED_ROWS: list[list[Any]] = [
    HEADER_LV,
    ["Līga", "Kalniņa", MINOR_CODE, "7.b", "", "Ventspils novads", "Ventspils novads", "Ugāles vsk."],  # 2 ok
    ["Jānis", "Ozols", "140312-21008", "5", "", "Ventspils novads", "Ventspils novads", ""],  # 3 checksum
    ["Anna", "", "40003245752", "13", "", "Ventspils novads", "Ventspils novads", ""],  # 4 three errors
    [None] * 8,  # a blank line is skipped, and row numbers stay as the spreadsheet shows them
    ["Pēteris", "Liepa", ADULT_CODE, "12", "02.01.1990", "Ventspils novads", "Talsu novads", ""],  # 6 mismatch
    ["Ilze", "Kļava", NEW_FORMAT_BAD_CHECK, "3", "05.06.2015", "Ventspils novads", "Ventspils novads", ""],  # 7 warn
    ["Rūta", "Egle", NEW_FORMAT_CODE, "3", "", "Ventspils novads", "Ventspils novads", ""],  # 8 no birth date
    ["Līga", "Kalniņa", "14031221007", "7", "", "Ventspils novads", "Ventspils novads", ""],  # 9 = row 2
    ["Toms", "Bērzs", OTHER_MINOR_CODE, "x", "2008-05-15", "Ventspils novads", "Ventspils novads", ""],  # 10 class
]
EXPECTED_ERRORS = {
    3: [("Personas kods", "personal_code_checksum")],
    4: [("Uzvārds", "required"), ("Personas kods", "personal_code_format"), ("Klase", "grade_out_of_range")],
    6: [("Dzimšanas datums", "birth_date_mismatch")],
    8: [("Dzimšanas datums", "birth_date_required")],
    9: [("Personas kods", "duplicate_in_file")],
    10: [("Klase", "grade_format")],
}


@pytest.fixture()
def town(plans_world: Any) -> dict[str, Any]:
    return plans_world.tenant(kind="municipality")


@pytest.fixture()
def coordinator(plans_world: Any, town: dict[str, Any]) -> dict[str, Any]:
    return plans_world.staff(town, "school_coordinator")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_preview_reports_every_rows_errors_by_row_and_column_and_creates_nothing(
    plans_client: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any], kind: str
) -> None:
    data = csv_bytes(MIXED_ROWS) if kind == "csv" else xlsx_bytes(MIXED_ROWS)
    resp = upload(plans_client, coordinator, town["school"], data, f"skoleni.{kind}")
    assert resp.status_code == 201, resp.json
    preview = resp.json

    assert preview["status"] == "previewed"
    assert (preview["rows_total"], preview["rows_valid"], preview["rows_invalid"]) == (8, 2, 6)
    assert by_row(preview) == EXPECTED_ERRORS
    assert all(e["message"] and e["message_lv"] for e in preview["errors"])
    assert [(w["row"], w["column"], w["code"]) for w in preview["warnings"]] == [
        (1, "Skola", "column_ignored"),
        (7, "Personas kods", "personal_code_checksum"),
    ]
    assert [(r["row"], r["first_name"], r["code_hint"], r["grade"], r["birth_date"]) for r in preview["rows"]] == [
        (2, "Līga", "140312-*****", 7, "2012-03-14"),
        (7, "Ilze", "321234-*****", 3, "2015-06-05"),
    ]
    assert preview["rows"][1]["warnings"] == ["personal_code_checksum"]
    assert count(plans_runtime, Student) == 0

    again = plans_client.get(f"/students/imports/{preview['id']}", headers=coordinator["headers"])
    assert again.status_code == 200 and again.json["errors"] == preview["errors"]


def test_a_commit_creates_the_valid_rows_once_and_the_same_file_again_creates_nothing(
    plans_client: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    data = csv_bytes(MIXED_ROWS)
    first = upload(plans_client, coordinator, town["school"], data).json
    # the same file before the commit: the same preview, not a second one
    same = upload(plans_client, coordinator, town["school"], data).json
    assert same["id"] == first["id"]
    assert count(plans_runtime, StudentImport) == 1

    committed = plans_client.post(f"/students/imports/{first['id']}/commit", headers=coordinator["headers"])
    assert committed.status_code == 200, committed.json
    assert committed.json["status"] == "committed" and committed.json["committed_at"]
    assert (committed.json["created_count"], committed.json["existing_count"]) == (2, 0)
    with plans_runtime.db.session() as s:
        students = s.execute(select(Student).order_by(Student.first_name)).scalars().all()
        created_ids = {str(st.id) for st in students}
        events = s.execute(select(TimelineEvent)).scalars().all()
        audits = s.execute(select(AuditEvent.action)).scalars().all()
    assert [(st.first_name, st.grade, st.birth_date, st.programme) for st in students] == [
        ("Ilze", 3, date(2015, 6, 5), "general"),
        ("Līga", 7, date(2012, 3, 14), "general"),
    ]
    assert {str(st.school_id) for st in students} == {town["school"]}
    assert sorted((e.kind, e.source, str(e.student_id)) for e in events) == sorted(
        ("student_created", "plans", sid) for sid in created_ids
    )
    assert all(e.summary_lv.endswith("(imports).") for e in events)
    # the same list sent twice is kept twice: who sent a list of personal codes matters each time
    assert sorted(audits) == sorted(
        ["student_import.previewed"] * 2 + ["student.created", "student.created", "student_import.committed"]
    )

    problem(
        plans_client.post(f"/students/imports/{first['id']}/commit", headers=coordinator["headers"]),
        409,
        "import_already_committed",
    )

    # the same file once more: the same preview again, and its commit finds everyone already there
    second = upload(plans_client, coordinator, town["school"], data).json
    assert second["id"] != first["id"]
    for key in ("rows_total", "rows_valid", "errors", "warnings", "sha256"):
        assert second[key] == first[key], key
    assert [r["code_hint"] for r in second["rows"]] == [r["code_hint"] for r in first["rows"]]
    again = plans_client.post(f"/students/imports/{second['id']}/commit", headers=coordinator["headers"]).json
    assert (again["created_count"], again["existing_count"]) == (0, 2)
    assert count(plans_runtime, Student) == 2
    assert count(plans_runtime, TimelineEvent) == 2

    listed = plans_client.get("/students/imports", headers=coordinator["headers"]).json
    assert [i["id"] for i in listed["items"]] == [second["id"], first["id"]]
    assert "rows" not in listed["items"][0]


def test_students_registered_before_are_counted_as_existing_not_duplicated(
    plans_client: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    created = plans_client.post(
        "/students",
        headers=coordinator["headers"],
        json={
            "school_id": town["school"],
            "first_name": "Līga",
            "last_name": "Kalniņa",
            "personal_code": MINOR_CODE,
            "grade": 6,
            "declared_municipality": "Ventspils novads",
            "actual_municipality": "Ventspils novads",
        },
    )
    assert created.status_code == 201
    rows = [
        [
            "first_name",
            "last_name",
            "personal_code",
            "grade",
            "birth_date",
            "declared_municipality",
            "actual_municipality",
        ],
        ["Līga", "Kalniņa", "14031221007", 7, "14.03.2012", "Ventspils", "Ventspils"],
        ["Jānis", "Ozols", OTHER_MINOR_CODE, 9, "", "Ventspils", "Ventspils"],
    ]
    preview = upload(plans_client, coordinator, town["school"], csv_bytes(rows, ","), "students.csv").json
    assert preview["rows_valid"] == 2 and preview["errors"] == []
    result = plans_client.post(f"/students/imports/{preview['id']}/commit", headers=coordinator["headers"]).json
    assert (result["created_count"], result["existing_count"]) == (1, 1)
    with plans_runtime.db.session() as s:
        grades = dict(s.execute(select(Student.first_name, Student.grade)).all())
    assert grades == {"Līga": 6, "Jānis": 9}  # the existing student is left as it was


def test_xlsx_cells_as_numbers_and_dates_and_a_vocational_list(plans_client: Any, plans_world: Any) -> None:
    college = plans_world.tenant(kind="vocational_school")
    coordinator = plans_world.staff(college, "school_coordinator")
    header = ["Vārds", "Uzvārds", "Personas kods", "Skolēna ID", "Kurss", "Dzimšanas datums", "Programma"]
    rows = [
        [*header, "Deklarētā dzīvesvieta", "Faktiskā dzīvesvieta"],
        ["Anna", "Bērziņa", 1019011004, None, 2, None, None, "Liepāja", "Liepāja"],  # leading zero lost
        ["Otto", "Klavs", None, "LV-2024/17", 1.0, date(2006, 4, 1), "profesionālā", "Liepāja", "Liepāja"],
        ["Eva", "Zaļā", "150508-21002", None, "3. kurss", None, "tālākizglītība", "Liepāja", "Liepāja"],
        ["Ivo", "Sils", 32123456785, None, 5, date(2005, 1, 1), None, "Liepāja", "Liepāja"],
    ]
    resp = upload(plans_client, coordinator, college["school"], xlsx_bytes(rows), "saraksts.xlsx")
    assert resp.status_code == 201, resp.json
    preview = resp.json
    assert by_row(preview) == {5: [("Kurss", "course_out_of_range")]}
    assert [
        (r["first_name"], r["code_kind"], r["course"], r["programme"], r["birth_date"]) for r in preview["rows"]
    ] == [
        ("Anna", "personal_code", 2, "vocational", "1990-01-01"),
        ("Otto", "student_id", 1, "vocational", "2006-04-01"),
        ("Eva", "personal_code", 3, "further_training", "2008-05-15"),
    ]


def test_a_file_that_cannot_be_read_is_refused_whole(
    plans_client: Any,
    plans_app: Any,
    plans_runtime: Any,
    town: dict[str, Any],
    coordinator: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    school, h = town["school"], coordinator
    missing = csv_bytes([["vārds", "uzvārds", "klase"], ["Anna", "Liepa", "5"]])
    err = problem(upload(plans_client, h, school, missing), 422, "import_columns_missing")
    assert err["errors"]["columns"] == [
        "personas_kods / skolēna_id",
        "deklarētā_dzīvesvieta",
        "faktiskā_dzīvesvieta",
    ]
    twice = csv_bytes([["vārds", "first_name"], ["Anna", "Anna"]])
    problem(upload(plans_client, h, school, twice), 422, "import_columns_duplicate")
    latin = "vārds;uzvārds\nAnna;Bērziņa\n".encode("cp1257")
    problem(upload(plans_client, h, school, latin), 422, "import_encoding")
    problem(upload(plans_client, h, school, b"PK\x03\x04 not really a workbook", "x.xlsx"), 422, "import_unreadable")
    problem(upload(plans_client, h, school, b"\xd0\xcf\x11\xe0 old excel", "x.xls"), 422, "import_format")
    problem(upload(plans_client, h, school, csv_bytes([HEADER_LV])), 422, "import_empty")
    problem(
        plans_client.post(f"/students/imports?school_id={school}", headers=h["headers"], data={}), 422, "invalid_input"
    )

    settings = plans_app.extensions["settings"]
    monkeypatch.setitem(plans_app.extensions, "settings", dataclasses.replace(settings, import_max_rows=2))
    three = csv_bytes([MIXED_ROWS[0], MIXED_ROWS[1], MIXED_ROWS[2], MIXED_ROWS[3]])
    problem(upload(plans_client, h, school, three), 422, "import_too_many_rows")
    monkeypatch.setitem(plans_app.extensions, "settings", dataclasses.replace(settings, import_max_bytes=300))
    big = csv_bytes([MIXED_ROWS[0]] + [MIXED_ROWS[1]] * 3)
    assert len(big) > 300
    problem(upload(plans_client, h, school, big), 413, "import_too_large")
    huge = csv_bytes([MIXED_ROWS[0]] + [MIXED_ROWS[1]] * 1000)
    problem(upload(plans_client, h, school, huge), 413, "import_too_large")  # refused before the form is read
    assert count(plans_runtime, StudentImport) == 0


def test_only_writers_of_the_school_import_and_other_tenants_find_nothing(
    plans_client: Any, plans_world: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    data = csv_bytes(MIXED_ROWS[:3])
    auditor = plans_world.user(town, {"role": "auditor", "tenant_id": town["id"]})
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})
    teacher = plans_world.staff(town, "teacher")
    for reader in (auditor, regional, teacher):
        problem(upload(plans_client, reader, town["school"], data), 403, "forbidden")

    preview = upload(plans_client, coordinator, town["school"], data).json
    # readers may look at it, never commit it
    assert plans_client.get(f"/students/imports/{preview['id']}", headers=auditor["headers"]).status_code == 200
    problem(
        plans_client.post(f"/students/imports/{preview['id']}/commit", headers=auditor["headers"]), 403, "forbidden"
    )

    elsewhere = plans_world.tenant(kind="municipality")
    stranger = plans_world.staff(elsewhere, "school_coordinator")
    problem(upload(plans_client, stranger, town["school"], data), 404, "not_found")
    problem(plans_client.get(f"/students/imports/{preview['id']}", headers=stranger["headers"]), 404, "not_found")
    commit = plans_client.post(f"/students/imports/{preview['id']}/commit", headers=stranger["headers"])
    problem(commit, 404, "not_found")
    assert plans_client.get("/students/imports", headers=stranger["headers"]).json["total"] == 0

    # the municipality coordinator imports into any school of the tenant
    mayor = plans_world.staff(town, "municipality_coordinator")
    done = plans_client.post(f"/students/imports/{preview['id']}/commit", headers=mayor["headers"])
    assert done.status_code == 200 and done.json["created_count"] == 1
    assert count(plans_runtime, Student) == 1
