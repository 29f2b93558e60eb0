"""The rules about a student's data and eligibility on a day (no servers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from cryptography.fernet import Fernet

from services.plans import codes
from services.plans.settings import PlansSettings
from services.plans.student_rules import StudentInvalid, check_student, eligible_on
from services.plans.students import name_pattern

pytestmark = pytest.mark.unit

SETTINGS = PlansSettings(
    service="plans",
    database_url="postgresql+psycopg://offline@127.0.0.1:1/x",
    broker_url="redis://127.0.0.1:1/0",
    result_backend="redis://127.0.0.1:1/0",
    jwt_issuer="https://identity.example",
    jwt_audience="pumpurs",
    jwks_url="https://identity.example/.well-known/jwks.json",
    person_hash_secret="unit-secret",
    personal_code_key=Fernet.generate_key().decode(),
)
FROM = date(2021, 9, 1)


@dataclass
class S:
    grade: int | None = 7
    course: int | None = None
    programme: str = "general"
    active: bool = True


def student(**kw: Any) -> dict[str, Any]:
    return {
        "first_name": "Līga",
        "last_name": "Kalniņa",
        "personal_code": "140312-21007",
        "grade": 7,
        "declared_municipality": "Ventspils",
        "actual_municipality": "Ventspils",
        **kw,
    }


def codes_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in check_student(SETTINGS, data).problems]


# ---- eligibility --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "day", "eligible", "reasons"),
    [
        (S(grade=7), date(2020, 1, 1), True, []),
        (S(grade=12), FROM, True, []),
        (S(grade=4), date(2021, 8, 31), False, ["grades_1_4_not_yet_eligible"]),
        (S(grade=1), FROM, True, []),
        (S(grade=5), date(2021, 8, 31), True, []),
        (S(grade=None, course=4, programme="vocational"), FROM, True, []),
        (S(grade=None, course=2, programme="further_training"), FROM, False, ["further_training_not_eligible"]),
        (S(grade=13), FROM, False, ["grade_out_of_range"]),
        (S(grade=None, course=5, programme="vocational"), FROM, False, ["course_out_of_range"]),
        (S(grade=None), FROM, False, ["grade_or_course_required"]),
        (S(grade=7, active=False), FROM, False, ["student_inactive"]),
    ],
)
def test_eligibility_on_a_day(who: S, day: date, eligible: bool, reasons: list[str]) -> None:
    verdict = eligible_on(who, day, FROM)
    assert (bool(verdict), verdict.eligible, verdict.reasons) == (eligible, eligible, reasons)


def test_the_eligibility_date_comes_from_settings_and_defaults_to_the_programmes() -> None:
    assert not eligible_on(S(grade=2), date(2021, 8, 31))
    assert eligible_on(S(grade=2), date(2021, 9, 1))
    assert not eligible_on(S(grade=2), date(2022, 1, 1), grades_1_4_from=date(2022, 9, 1))


# ---- checking a student's data ------------------------------------------------------------------


def test_a_valid_student_is_stored_with_a_hashed_and_encrypted_code_and_its_birth_date() -> None:
    checked = check_student(SETTINGS, student())
    assert checked.problems == [] and checked.warnings == []
    c = checked.columns
    assert c["birth_date"] == date(2012, 3, 14) and c["programme"] == "general"
    assert c["code_kind"] == "personal_code" and c["code_hint"] == "140312-*****"
    assert c["code_hash"] == codes.code_hash("unit-secret", "personal_code", "14031221007")
    assert codes.decrypt(SETTINGS.personal_code_key, c["code_encrypted"]) == "14031221007"
    assert "14031221007" not in repr({k: v for k, v in c.items() if k != "code_encrypted"})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"personal_code": "140312-21008"}, [("personal_code", "personal_code_checksum")]),
        ({"personal_code": "40003245752"}, [("personal_code", "personal_code_format")]),
        ({"birth_date": date(2012, 3, 15)}, [("birth_date", "birth_date_mismatch")]),
        ({"personal_code": "32123456785"}, [("birth_date", "birth_date_required")]),
        ({"personal_code": "14031251003"}, [("personal_code", "personal_code_format")]),  # century digit 5
        ({"personal_code": None}, [("personal_code", "code_required")]),
        ({"student_id_code": "AB1234"}, [("student_id_code", "code_ambiguous")]),
        ({"grade": 0}, [("grade", "grade_out_of_range")]),
        ({"grade": 13}, [("grade", "grade_out_of_range")]),
        ({"grade": None}, [("grade", "grade_required")]),
        ({"grade": None, "course": 5}, [("course", "course_out_of_range")]),
        ({"grade": None, "programme": "vocational"}, [("course", "course_required")]),
        ({"course": 2}, [("course", "grade_and_course")]),
        ({"first_name": "  ", "last_name": "x" * 101}, [("first_name", "required"), ("last_name", "too_long")]),
        (
            {"personal_code": None, "student_id_code": "140312-21007"},
            [("student_id_code", "student_id_is_personal_code")],
        ),
        ({"personal_code": None, "student_id_code": "A!"}, [("student_id_code", "student_id_format")]),
    ],
)
def test_each_broken_rule_is_one_problem_on_its_field(change: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert codes_of(student(**change)) == expected


def test_every_problem_of_a_student_is_collected_and_the_api_error_starts_with_the_first() -> None:
    problems = check_student(SETTINGS, student(last_name="", personal_code="40003245752", grade=13)).problems
    assert [(p.field, p.code) for p in problems] == [
        ("last_name", "required"),
        ("personal_code", "personal_code_format"),
        ("grade", "grade_out_of_range"),
    ]
    err = StudentInvalid(problems)
    assert (err.status, err.code) == (422, "required")
    assert set(err.errors or {}) == {"last_name", "personal_code", "grade"}
    assert err.detail_lv


def test_a_new_format_code_with_a_bad_check_digit_passes_with_a_warning() -> None:
    checked = check_student(SETTINGS, student(personal_code="32123456784", birth_date=date(2011, 5, 2)))
    assert checked.problems == [] and checked.warnings == ["personal_code_checksum"]


def test_the_programme_follows_the_class_or_course_unless_given() -> None:
    assert check_student(SETTINGS, student(grade=None, course=1)).columns["programme"] == "vocational"
    further = check_student(SETTINGS, student(grade=None, programme="further_training"))
    assert further.problems == [] and further.columns["programme"] == "further_training"


def test_a_student_id_code_needs_a_birth_date_and_is_normalised() -> None:
    checked = check_student(
        SETTINGS, student(personal_code=None, student_id_code="lv 2024/17", birth_date=date(2010, 1, 1))
    )
    assert checked.problems == []
    assert checked.columns["code_kind"] == "student_id" and checked.columns["code_hint"] == "LV2******"


@pytest.mark.parametrize(
    ("term", "matches", "misses"),
    [
        ("kalnina", ["Kalniņa", "KALNIŅA", "kalnina"], ["Kalns"]),
        ("LĪGA", ["Līga", "līga"], ["Liga"]),  # an accent typed is an accent meant
        ("ozo", ["Ozols"], ["Oz"]),
        ("a-b", ["A-B"], ["AxB"]),
        ("%", ["50%"], ["x"]),
    ],
)
def test_name_search_is_case_and_accent_blind(term: str, matches: list[str], misses: list[str]) -> None:
    import re

    pattern = re.compile(name_pattern(term))  # the same syntax as PostgreSQL's ~ for these patterns
    assert all(pattern.search(m) for m in matches)
    assert not any(pattern.search(m) for m in misses)
