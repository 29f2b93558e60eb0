"""Students through the plans API on real PostgreSQL, with real identity tokens and read models:
register, change, read, list, exact-code search, eligibility by date, refusals, scopes, no code leaks."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from services.common import migrate
from services.plans.models import AuditEvent, SchoolRM, Student, TimelineEvent
from tests.integration.plans.conftest import (
    ADULT_CODE,
    MINOR_CODE,
    NEW_FORMAT_BAD_CHECK,
    NEW_FORMAT_CODE,
    OTHER_MINOR_CODE,
)

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"
GRADE_3_CODE = "010615-21008"  # born 01.06.2015, valid check digit


def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    assert resp.json["code"] == code, resp.json
    return resp.json


def body(tenant: dict[str, Any], code: str | None = MINOR_CODE, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "school_id": tenant["school"],
        "first_name": "Līga",
        "last_name": "Kalniņa",
        "grade": 7,
        "declared_municipality": "Ventspils novads",
        "actual_municipality": "Ventspils novads",
        **extra,
    }
    if code is not None:
        out["personal_code"] = code
    return out


def create(client: Any, user: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    resp = client.post("/students", headers=user["headers"], json=payload)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.json


def count(runtime: Any, model: Any, *where: Any) -> int:
    with runtime.db.session() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def second_school(plans_world: Any, tenant: dict[str, Any]) -> str:
    school = plans_world.world.school(tenant)
    plans_world._wait(SchoolRM, school)
    return school


@pytest.fixture()
def town(plans_world: Any) -> dict[str, Any]:
    return plans_world.tenant(kind="municipality")


@pytest.fixture()
def coordinator(plans_world: Any, town: dict[str, Any]) -> dict[str, Any]:
    return plans_world.staff(town, "school_coordinator")


def test_the_plans_models_and_migrations_agree(plans_settings: Any) -> None:
    migrate.check("plans", plans_settings.database_url)


# ---- create and read ----------------------------------------------------------------------------


def test_a_school_coordinator_registers_a_student_with_the_birth_date_from_the_code(
    plans_client: Any, plans_world: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town))

    assert student["birth_date"] == "2012-03-14"
    assert student["code_kind"] == "personal_code"
    assert student["code_hint"] == "140312-*****"
    assert student["programme"] == "general"
    assert student["tenant_id"] == town["id"] and student["school_id"] == town["school"]
    assert student["eligibility"]["eligible"] is True and student["eligibility"]["reasons"] == []
    assert student["warnings"] == []
    assert "personal_code" not in student
    with plans_runtime.db.session() as s:
        audit = s.execute(select(AuditEvent).where(AuditEvent.target_id == student["id"])).scalars().all()
        events = s.execute(select(TimelineEvent).where(TimelineEvent.student_id == uuid.UUID(student["id"]))).scalars()
        events = list(events)
    assert [a.action for a in audit] == ["student.created"]
    assert audit[0].actor_id == uuid.UUID(coordinator["id"])
    assert [(e.kind, e.source, e.source_key) for e in events] == [
        ("student_created", "plans", f"student_created:{student['id']}")
    ]
    assert events[0].summary_lv.startswith("Izglītojamais reģistrēts")
    assert events[0].summary_en.startswith("Student registered")


def test_only_roles_that_may_change_students_see_the_code(
    plans_client: Any, plans_world: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town))
    preparer = plans_world.staff(town, "plan_preparer")
    teacher = plans_world.staff(town, "teacher")
    auditor = plans_world.user(town, {"role": "auditor", "tenant_id": town["id"]})
    regional = plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"})

    for writer in (coordinator, preparer):
        resp = plans_client.get(f"/students/{student['id']}", headers=writer["headers"])
        assert resp.status_code == 200
        assert resp.json["personal_code"] == MINOR_CODE
    for reader in (teacher, auditor, regional):
        resp = plans_client.get(f"/students/{student['id']}", headers=reader["headers"])
        assert resp.status_code == 200, resp.json
        assert "personal_code" not in resp.json and resp.json["code_hint"] == "140312-*****"
    # each read of a code in clear is on the record
    assert count(plans_runtime, AuditEvent, AuditEvent.action == "student.code_read") == 2


def test_a_new_format_code_with_a_wrong_check_digit_is_accepted_with_a_warning(
    plans_client: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town, NEW_FORMAT_BAD_CHECK, birth_date="2011-05-02"))
    assert student["warnings"] == ["personal_code_checksum"]
    assert student["birth_date"] == "2011-05-02"
    assert student["code_hint"] == "321234-*****"

    good = create(plans_client, coordinator, body(town, NEW_FORMAT_CODE, birth_date="2011-05-03"))
    assert good["warnings"] == []


def test_a_student_without_a_personal_code_is_registered_by_a_student_id_code(
    plans_client: Any, coordinator: dict[str, Any], town: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town, None, student_id_code="ab 1234", birth_date="2010-01-02"))
    assert student["code_kind"] == "student_id"
    assert student["code_hint"] == "AB1***"
    resp = plans_client.get(f"/students/{student['id']}", headers=coordinator["headers"])
    assert resp.json["student_id_code"] == "AB1234"


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"personal_code": "140312-21008"}, 422, "personal_code_checksum", "personal_code"),
        ({"personal_code": "40003245752"}, 422, "personal_code_format", "personal_code"),  # a company code
        ({"personal_code": "90000051525"}, 422, "personal_code_format", "personal_code"),  # a municipality's
        ({"personal_code": "140312"}, 422, "personal_code_format", "personal_code"),
        ({"birth_date": "2012-03-15"}, 422, "birth_date_mismatch", "birth_date"),
        ({"grade": 13}, 422, "grade_out_of_range", "grade"),
        ({"grade": 0}, 422, "grade_out_of_range", "grade"),
        ({"grade": None, "course": 5}, 422, "course_out_of_range", "course"),
        ({"grade": 7, "course": 2}, 422, "grade_and_course", "course"),
        ({"grade": None}, 422, "grade_required", "grade"),
        ({"personal_code": None}, 422, "code_required", "personal_code"),
        ({"personal_code": NEW_FORMAT_CODE}, 422, "birth_date_required", "birth_date"),
        ({"personal_code": None, "student_id_code": "140312-21007"}, 422, "student_id_is_personal_code", None),
        ({"student_id_code": "AB1234"}, 422, "code_ambiguous", "student_id_code"),
    ],
)
def test_a_student_that_breaks_a_rule_is_refused_with_its_code(
    plans_client: Any,
    plans_runtime: Any,
    town: dict[str, Any],
    coordinator: dict[str, Any],
    change: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    payload = {k: v for k, v in {**body(town), **change}.items() if v is not None}
    if change.get("grade", 1) is None:
        payload.pop("grade", None)
    resp = plans_client.post("/students", headers=coordinator["headers"], json=payload)
    err = problem(resp, status, code)
    assert err["detail_lv"]
    if field:
        assert field in err["errors"]
    assert MINOR_CODE not in resp.get_data(as_text=True)
    assert count(plans_runtime, Student) == 0
    assert count(plans_runtime, AuditEvent) == 0


def test_the_same_code_twice_in_a_tenant_is_refused_but_another_tenant_may_have_it(
    plans_client: Any, plans_world: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    first = create(plans_client, coordinator, body(town))
    again = plans_client.post("/students", headers=coordinator["headers"], json=body(town, "140312 21007"))
    assert problem(again, 409, "student_exists")["existing_student_id"] == first["id"]

    # in another school of the same tenant too; that school's preparer is not told which student it is
    school2 = second_school(plans_world, town)
    preparer2 = plans_world.staff(town, "plan_preparer", school=school2)
    other_school = plans_client.post(
        "/students", headers=preparer2["headers"], json=body(town, MINOR_CODE, school_id=school2)
    )
    assert "existing_student_id" not in problem(other_school, 409, "student_exists")

    elsewhere = plans_world.tenant(kind="municipality")
    create(plans_client, plans_world.staff(elsewhere, "school_coordinator"), body(elsewhere))
    assert count(plans_runtime, Student) == 2


# ---- eligibility --------------------------------------------------------------------------------


def test_grades_1_to_4_are_eligible_only_from_the_configured_date(
    plans_client: Any, town: dict[str, Any], coordinator: dict[str, Any], plans_settings: Any
) -> None:
    assert plans_settings.grades_1_4_eligible_from.isoformat() == "2021-09-01"
    student = create(plans_client, coordinator, body(town, GRADE_3_CODE, grade=3))
    assert student["eligibility"]["eligible"] is True  # today

    before = plans_client.get(f"/students/{student['id']}?on=2021-08-31", headers=coordinator["headers"]).json
    assert before["eligibility"] == {"on": "2021-08-31", "eligible": False, "reasons": ["grades_1_4_not_yet_eligible"]}
    on_the_day = plans_client.get(f"/students/{student['id']}?on=2021-09-01", headers=coordinator["headers"]).json
    assert on_the_day["eligibility"] == {"on": "2021-09-01", "eligible": True, "reasons": []}

    listed = plans_client.get("/students?on=2021-08-31", headers=coordinator["headers"]).json["items"]
    assert listed[0]["eligibility"]["eligible"] is False

    older = create(plans_client, coordinator, body(town, MINOR_CODE, grade=5))
    before5 = plans_client.get(f"/students/{older['id']}?on=2021-08-31", headers=coordinator["headers"]).json
    assert before5["eligibility"]["eligible"] is True


def test_a_further_training_student_is_registered_but_never_eligible(plans_client: Any, plans_world: Any) -> None:
    college = plans_world.tenant(kind="vocational_school")
    coordinator = plans_world.staff(college, "school_coordinator")
    student = create(
        plans_client, coordinator, body(college, ADULT_CODE, grade=None, course=2, programme="further_training")
    )
    assert student["programme"] == "further_training"
    assert student["eligibility"]["eligible"] is False
    assert student["eligibility"]["reasons"] == ["further_training_not_eligible"]

    vocational = create(plans_client, coordinator, body(college, OTHER_MINOR_CODE, grade=None, course=1))
    assert vocational["programme"] == "vocational" and vocational["eligibility"]["eligible"] is True


# ---- update -------------------------------------------------------------------------------------


def test_a_change_is_checked_again_and_recorded_without_values(
    plans_client: Any, plans_world: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town))
    url = f"/students/{student['id']}"

    resp = plans_client.patch(url, headers=coordinator["headers"], json={"grade": 8, "last_name": "Ozola"})
    assert resp.status_code == 200, resp.json
    assert (resp.json["grade"], resp.json["last_name"]) == (8, "Ozola")

    problem(plans_client.patch(url, headers=coordinator["headers"], json={"grade": 14}), 422, "grade_out_of_range")
    problem(
        plans_client.patch(url, headers=coordinator["headers"], json={"birth_date": "2012-03-15"}),
        422,
        "birth_date_mismatch",
    )
    # a new code brings its own birth date
    moved = plans_client.patch(url, headers=coordinator["headers"], json={"personal_code": OTHER_MINOR_CODE})
    assert moved.status_code == 200 and moved.json["birth_date"] == "2008-05-15"
    assert moved.json["code_hint"] == "150508-*****"
    # to a vocational course: the programme follows
    voc = plans_client.patch(url, headers=coordinator["headers"], json={"grade": None, "course": 2})
    assert (voc.json["programme"], voc.json["course"], voc.json["grade"]) == ("vocational", 2, None)

    # the new code is found, the old one no more
    found = plans_client.post(
        "/students/search", headers=coordinator["headers"], json={"personal_code": OTHER_MINOR_CODE}
    )
    assert [s["id"] for s in found.json["items"]] == [student["id"]]
    gone = plans_client.post("/students/search", headers=coordinator["headers"], json={"personal_code": MINOR_CODE})
    assert gone.json["total"] == 0

    # a code another student of the tenant has is refused
    other = create(plans_client, coordinator, body(town, ADULT_CODE))
    problem(
        plans_client.patch(
            f"/students/{other['id']}", headers=coordinator["headers"], json={"personal_code": OTHER_MINOR_CODE}
        ),
        409,
        "student_exists",
    )

    # nothing changed, nothing recorded
    same = plans_client.patch(url, headers=coordinator["headers"], json={"course": 2})
    assert same.status_code == 200

    with plans_runtime.db.session() as s:
        updates = (
            s.execute(
                select(AuditEvent).where(AuditEvent.target_id == student["id"], AuditEvent.action == "student.updated")
            )
            .scalars()
            .all()
        )
        timeline = (
            s.execute(
                select(TimelineEvent)
                .where(TimelineEvent.student_id == uuid.UUID(student["id"]), TimelineEvent.kind == "student_updated")
                .order_by(TimelineEvent.id)
            )
            .scalars()
            .all()
        )
    assert [a.details["fields"] for a in updates] == [
        ["grade", "last_name"],
        ["birth_date", "code"],
        ["course", "grade", "programme"],
    ]
    assert len(timeline) == 3 and len({e.source_key for e in timeline}) == 3
    assert timeline[0].summary_lv == "Izglītojamā dati mainīti: klase, uzvārds."
    assert timeline[0].summary_en == "Student details changed: class, last name."


def test_a_student_moves_to_another_school_of_the_tenant_only(
    plans_client: Any, plans_world: Any, town: dict[str, Any]
) -> None:
    coordinator = plans_world.staff(town, "municipality_coordinator")
    student = create(plans_client, coordinator, body(town))
    school2 = second_school(plans_world, town)
    moved = plans_client.patch(
        f"/students/{student['id']}", headers=coordinator["headers"], json={"school_id": school2}
    )
    assert moved.status_code == 200 and moved.json["school_id"] == school2

    elsewhere = plans_world.tenant(kind="municipality")
    away = plans_client.patch(
        f"/students/{student['id']}", headers=coordinator["headers"], json={"school_id": elsewhere["school"]}
    )
    problem(away, 404, "not_found")


# ---- list and search ----------------------------------------------------------------------------


def test_lists_filter_by_school_class_course_and_name(
    plans_client: Any, plans_world: Any, town: dict[str, Any]
) -> None:
    coordinator = plans_world.staff(town, "municipality_coordinator")
    school2 = second_school(plans_world, town)
    create(plans_client, coordinator, body(town, MINOR_CODE, first_name="Līga", last_name="Kalniņa", grade=7))
    create(plans_client, coordinator, body(town, OTHER_MINOR_CODE, first_name="Jānis", last_name="Kalns", grade=9))
    create(
        plans_client,
        coordinator,
        body(town, ADULT_CODE, first_name="Anna", last_name="Bērziņa", grade=None, course=3, school_id=school2),
    )
    h = coordinator["headers"]

    def names(query: str) -> list[str]:
        resp = plans_client.get(f"/students{query}", headers=h)
        assert resp.status_code == 200, resp.json
        return [s["first_name"] for s in resp.json["items"]]

    assert names("") == ["Anna", "Līga", "Jānis"]  # by surname
    assert names(f"?school_id={town['school']}") == ["Līga", "Jānis"]
    assert names("?grade=9") == ["Jānis"]
    assert names("?course=3") == ["Anna"]
    assert names("?programme=vocational") == ["Anna"]
    assert names("?q=kaln") == ["Līga", "Jānis"]
    assert names("?q=LĪGA%20kaln") == ["Līga"]
    assert names("?q=kalnina") == ["Līga"]  # typed without accents, found all the same
    assert names("?q=BĒRZ") == ["Anna"]
    assert names("?q=%25") == []  # a wildcard is a character, not a pattern
    page = plans_client.get("/students?page_size=2&page=2", headers=h).json
    assert (page["total"], [s["first_name"] for s in page["items"]]) == (3, ["Jānis"])

    # a school's staff list their school's students only
    teacher2 = plans_world.staff(town, "teacher", school=school2)
    assert [s["first_name"] for s in plans_client.get("/students", headers=teacher2["headers"]).json["items"]] == [
        "Anna"
    ]


def test_search_is_by_the_exact_code_in_the_body_only(
    plans_client: Any, plans_world: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town))
    create(plans_client, coordinator, body(town, OTHER_MINOR_CODE))
    h = coordinator["headers"]

    for spelling in (MINOR_CODE, "14031221007", " 140312 21007 "):
        found = plans_client.post("/students/search", headers=h, json={"personal_code": spelling})
        assert found.status_code == 200, found.json
        assert [s["id"] for s in found.json["items"]] == [student["id"]]
        assert "personal_code" not in found.json["items"][0]
    # no partial matches: a prefix is not a code
    problem(
        plans_client.post("/students/search", headers=h, json={"personal_code": "140312"}), 422, "personal_code_format"
    )
    problem(plans_client.post("/students/search", headers=h, json={}), 422, "code_required")
    # a code is never accepted in a URL
    problem(plans_client.get(f"/students?personal_code={MINOR_CODE}", headers=h), 422, "invalid_input")
    # another tenant finds nothing, even with the right code
    elsewhere = plans_world.tenant(kind="municipality")
    stranger = plans_world.staff(elsewhere, "school_coordinator")
    assert (
        plans_client.post("/students/search", headers=stranger["headers"], json={"personal_code": MINOR_CODE}).json[
            "total"
        ]
        == 0
    )


# ---- scope --------------------------------------------------------------------------------------


def test_another_tenants_students_are_not_found_for_reading_or_writing(
    plans_client: Any, plans_world: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town))
    elsewhere = plans_world.tenant(kind="municipality", region="latgale")
    stranger = plans_world.staff(elsewhere, "school_coordinator")
    mayor = plans_world.staff(elsewhere, "municipality_coordinator")
    url = f"/students/{student['id']}"

    for who in (stranger, mayor):
        problem(plans_client.get(url, headers=who["headers"]), 404, "not_found")
        problem(plans_client.patch(url, headers=who["headers"], json={"grade": 9}), 404, "not_found")
        problem(
            plans_client.post("/students", headers=who["headers"], json=body(town, OTHER_MINOR_CODE)), 404, "not_found"
        )
        assert plans_client.get("/students", headers=who["headers"]).json["total"] == 0
    problem(plans_client.get(f"/students/{uuid.uuid4()}", headers=coordinator["headers"]), 404, "not_found")
    # a regional coordinator of another region sees nothing either
    latgale = plans_world.user(None, {"role": "regional_coordinator", "region": "latgale"})
    problem(plans_client.get(url, headers=latgale["headers"]), 404, "not_found")
    assert count(plans_runtime, Student) == 1


def test_read_only_roles_and_other_staff_may_not_change_students(
    plans_client: Any, plans_world: Any, plans_runtime: Any, town: dict[str, Any], coordinator: dict[str, Any]
) -> None:
    student = create(plans_client, coordinator, body(town))
    url = f"/students/{student['id']}"
    readers = [
        plans_world.user(town, {"role": "auditor", "tenant_id": town["id"]}),
        plans_world.user(None, {"role": "regional_coordinator", "region": "kurzeme"}),
        plans_world.staff(town, "teacher"),
        plans_world.staff(town, "support_provider"),
        plans_world.staff(town, "director"),
    ]
    for reader in readers:
        assert plans_client.get(url, headers=reader["headers"]).status_code == 200
        problem(plans_client.patch(url, headers=reader["headers"], json={"grade": 9}), 403, "forbidden")
        problem(
            plans_client.post("/students", headers=reader["headers"], json=body(town, ADULT_CODE)), 403, "forbidden"
        )
    # a preparer of another school of the same tenant may not write in this school
    school2 = second_school(plans_world, town)
    preparer2 = plans_world.staff(town, "plan_preparer", school=school2)
    problem(plans_client.post("/students", headers=preparer2["headers"], json=body(town, ADULT_CODE)), 403, "forbidden")
    assert count(plans_runtime, Student) == 1
    assert count(plans_runtime, AuditEvent, AuditEvent.action != "student.code_read") == 1
    problem(plans_client.get("/students"), 401, "unauthenticated")


# ---- no code anywhere it must not be ------------------------------------------------------------


def all_text(database_url: str, tables: tuple[str, ...]) -> str:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        return "\n".join(str(row[0]) for t in tables for row in conn.execute(f"SELECT row_to_json(x)::text FROM {t} x"))


def code_spellings(*codes: str) -> list[str]:
    compact = [c.replace("-", "") for c in codes]
    return [*codes, *compact, *(f"{c[:6]}-{c[6:]}" for c in compact)]


def test_no_personal_code_reaches_a_log_line_or_an_audit_timeline_or_import_row(
    plans_client: Any,
    plans_world: Any,
    plans_settings: Any,
    plans_worker: Any,
    town: dict[str, Any],
    coordinator: dict[str, Any],
    caplog: Any,
) -> None:
    caplog.set_level(logging.INFO)
    student = create(plans_client, coordinator, body(town))
    plans_client.patch(f"/students/{student['id']}", headers=coordinator["headers"], json={"personal_code": ADULT_CODE})
    plans_client.get(f"/students/{student['id']}", headers=coordinator["headers"])
    plans_client.post("/students/search", headers=coordinator["headers"], json={"personal_code": ADULT_CODE})
    plans_client.post("/students", headers=coordinator["headers"], json=body(town, ADULT_CODE))  # 409
    plans_client.post("/students", headers=coordinator["headers"], json=body(town, "140312-21008"))  # 422
    csv_text = (
        "vārds;uzvārds;personas_kods;klase;deklarētā_dzīvesvieta;faktiskā_dzīvesvieta\n"
        f"Jānis;Ozols;{OTHER_MINOR_CODE};9;Ventspils;Ventspils\n"
        f"Anna;Liepa;{NEW_FORMAT_BAD_CHECK};5;Ventspils;Ventspils\n"
        "Ilze;Kļava;150508-21003;5;Ventspils;Ventspils\n"
    )
    preview = plans_client.post(
        f"/students/imports?school_id={town['school']}",
        headers=coordinator["headers"],
        data={"file": (__import__("io").BytesIO(csv_text.encode()), f"{OTHER_MINOR_CODE}.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 201, preview.json
    assert preview.json["filename"] == "***.csv"
    commit = plans_client.post(f"/students/imports/{preview.json['id']}/commit", headers=coordinator["headers"])
    assert commit.status_code == 200 and commit.json["created_count"] == 1

    secrets = code_spellings(MINOR_CODE, ADULT_CODE, OTHER_MINOR_CODE, "150508-21003", NEW_FORMAT_BAD_CHECK)
    stored = all_text(plans_settings.database_url, ("audit_events", "timeline_events", "student_imports", "students"))
    assert "student_import.committed" in stored  # the rows were read
    logged = caplog.text + plans_worker.log_text()
    assert "request" in caplog.text  # the request log lines were captured
    for secret in secrets:
        assert secret not in stored
        assert secret not in logged
        assert secret not in preview.get_data(as_text=True)
