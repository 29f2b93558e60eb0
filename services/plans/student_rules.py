"""The rules about a student's data (DOMAIN.md, "Students"): codes, date of birth, class or course,
programme, and eligibility on a day. Used by the students API and the importer alike; no Flask, no
database. Problems are collected, not raised, so an import can report every one of a row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.common.errors import ApiError

from . import codes
from .settings import PlansSettings

RIGA = ZoneInfo("Europe/Riga")
PROGRAMMES = ("general", "vocational", "further_training")
CODE_FIELDS = {"personal_code": "personal_code", "student_id_code": "student_id"}  # input field -> code_kind
NAME_MAX = 100
_PERSONAL_CODE_LIKE = re.compile(r"\d{6}-?\d{5}")


def riga_today() -> date:
    return datetime.now(RIGA).date()


# ---- eligibility ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.eligible


def eligible_on(student: Any, day: date, grades_1_4_from: date | None = None) -> Eligibility:
    """Whether the student may get support on `day`: grades 1-12 or vocational course 1-4, grades 1-4
    only from `grades_1_4_from` (settings.grades_1_4_eligible_from), never further training."""
    since = grades_1_4_from or PlansSettings.grades_1_4_eligible_from
    reasons = []
    if getattr(student, "programme", None) == "further_training":
        reasons.append("further_training_not_eligible")
    grade, course = getattr(student, "grade", None), getattr(student, "course", None)
    if (grade is None) == (course is None):
        reasons.append("grade_or_course_required")
    elif grade is not None and not 1 <= grade <= 12:
        reasons.append("grade_out_of_range")
    elif course is not None and not 1 <= course <= 4:
        reasons.append("course_out_of_range")
    elif grade is not None and grade <= 4 and day < since:
        reasons.append("grades_1_4_not_yet_eligible")
    if not getattr(student, "active", True):
        reasons.append("student_inactive")
    return Eligibility(not reasons, reasons)


# ---- checking what was typed or imported ---------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message: str
    message_lv: str


_CODE_LV = {
    "personal_code_format": "Personas kods nav derīgs: 11 cipari (DDMMGG-XXXXX) ar pareizu datumu; "
    "uzņēmuma reģistrācijas numurs nav personas kods.",
    "personal_code_checksum": "Personas koda kontrolcipars nav pareizs.",
}


class StudentInvalid(ApiError):
    """422 with the first problem's code, and every field's messages in `errors`."""

    def __init__(self, problems: list[Problem]) -> None:
        errors: dict[str, list[str]] = {}
        for p in problems:
            errors.setdefault(p.field, []).append(p.message)
        first = problems[0]
        super().__init__(422, first.code, first.message, detail_lv=first.message_lv, errors=errors)


@dataclass(frozen=True)
class CheckedCode:
    kind: str  # personal_code | student_id
    hash: str
    encrypted: str
    hint: str
    birth_date: date | None
    warnings: tuple[str, ...] = ()


@dataclass
class Checked:
    columns: dict[str, Any]  # Student columns, the code already hashed and encrypted
    code: CheckedCode | None
    warnings: list[str]
    problems: list[Problem]


def check_code(settings: PlansSettings, kind: str, raw: str) -> CheckedCode | Problem:
    """Validate a personal code or a student ID code and make its stored forms."""
    if kind == "personal_code":
        try:
            check = codes.check_personal_code(raw)
        except codes.InvalidCode as exc:
            return Problem("personal_code", exc.code, str(exc), _CODE_LV.get(exc.code, "Personas kods nav derīgs."))
        normalised, born, warnings = check.compact, check.birth_date, (check.warning,) if check.warning else ()
    else:
        normalised, born, warnings = codes.normalise_student_id(raw), None, ()
        if not 3 <= len(normalised) <= 20 or not all(c.isalnum() or c in "-/" for c in normalised):
            return Problem(
                "student_id_code",
                "student_id_format",
                "A student ID code has 3 to 20 letters, digits, '-' or '/'.",
                "Izglītojamā ID kodā ir 3–20 burti, cipari, '-' vai '/'.",
            )
        if _PERSONAL_CODE_LIKE.fullmatch(normalised):
            return Problem(
                "student_id_code",
                "student_id_is_personal_code",
                "This looks like a personal code; give it as the personal code.",
                "Tas izskatās pēc personas koda; norādiet to kā personas kodu.",
            )
    return CheckedCode(
        kind=kind,
        hash=codes.code_hash(settings.person_hash_secret, kind, normalised),
        encrypted=codes.encrypt(settings.personal_code_key, normalised),
        hint=codes.hint(kind, normalised),
        birth_date=born,
        warnings=warnings,
    )


def _text(data: Mapping[str, Any], key: str, problems: list[Problem], label_lv: str) -> str:
    value = (data.get(key) or "").strip()
    if not value:
        problems.append(Problem(key, "required", "This field is required.", f"Lauks '{label_lv}' ir obligāts."))
    elif len(value) > NAME_MAX:
        problems.append(
            Problem(key, "too_long", f"At most {NAME_MAX} characters.", f"Ne vairāk kā {NAME_MAX} rakstzīmes.")
        )
    return value


def check_student(settings: PlansSettings, data: Mapping[str, Any]) -> Checked:
    """Every rule about one student's data (DOMAIN.md, "Students"); problems are collected, not raised.

    `data` holds first_name, last_name, personal_code or student_id_code, birth_date, grade, course,
    programme, declared_municipality, actual_municipality (typed values; blanks as None).
    """
    problems: list[Problem] = []
    columns: dict[str, Any] = {
        "first_name": _text(data, "first_name", problems, "vārds"),
        "last_name": _text(data, "last_name", problems, "uzvārds"),
        "declared_municipality": _text(data, "declared_municipality", problems, "deklarētā dzīvesvieta"),
        "actual_municipality": _text(data, "actual_municipality", problems, "faktiskā dzīvesvieta"),
    }
    given = {f: str(data[f]).strip() for f in CODE_FIELDS if data.get(f) and str(data[f]).strip()}
    code: CheckedCode | None = None
    warnings: list[str] = []
    if not given:
        problems.append(
            Problem(
                "personal_code",
                "code_required",
                "Give a personal code or a student ID code.",
                "Norādiet personas kodu vai izglītojamā ID kodu.",
            )
        )
    elif len(given) > 1:
        problems.append(
            Problem(
                "student_id_code",
                "code_ambiguous",
                "Give a personal code or a student ID code, not both.",
                "Norādiet vai nu personas kodu, vai izglītojamā ID kodu, ne abus.",
            )
        )
    else:
        ((input_field, raw),) = given.items()
        checked = check_code(settings, CODE_FIELDS[input_field], raw)
        if isinstance(checked, Problem):
            problems.append(checked)
        else:
            code = checked
            warnings.extend(checked.warnings)
            columns.update(
                code_kind=checked.kind,
                code_hash=checked.hash,
                code_encrypted=checked.encrypted,
                code_hint=checked.hint,
            )

    born: date | None = data.get("birth_date")
    from_code = code.birth_date if code else None
    if born is not None and from_code is not None and born != from_code:
        problems.append(
            Problem(
                "birth_date",
                "birth_date_mismatch",
                "The date of birth does not agree with the personal code.",
                "Dzimšanas datums nesakrīt ar personas kodu.",
            )
        )
    born = born or from_code
    if born is None and code is not None:
        problems.append(
            Problem(
                "birth_date",
                "birth_date_required",
                "Give the date of birth: this code does not hold it.",
                "Norādiet dzimšanas datumu: šis kods to nesatur.",
            )
        )
    elif born is not None and not date(1900, 1, 1) <= born <= riga_today():
        problems.append(
            Problem(
                "birth_date",
                "birth_date_invalid",
                "The date of birth is in the future or before 1900.",
                "Dzimšanas datums ir nākotnē vai pirms 1900. gada.",
            )
        )
    columns["birth_date"] = born

    grade, course = data.get("grade"), data.get("course")
    programme = data.get("programme") or ("vocational" if course is not None else "general")
    columns.update(grade=grade, course=course, programme=programme)
    if grade is not None and not 1 <= grade <= 12:
        problems.append(Problem("grade", "grade_out_of_range", "A class is 1 to 12.", "Klase ir no 1 līdz 12."))
    if course is not None and not 1 <= course <= 4:
        problems.append(
            Problem(
                "course",
                "course_out_of_range",
                "A vocational course is 1 to 4.",
                "Profesionālās izglītības kurss ir no 1 līdz 4.",
            )
        )
    if grade is not None and course is not None:
        problems.append(
            Problem("course", "grade_and_course", "Give a class or a course, not both.", "Norādiet klasi vai kursu.")
        )
    elif programme == "general" and grade is None:
        problems.append(
            Problem(
                "grade",
                "grade_required",
                "A general-education student has a class (1-12).",
                "Vispārējās izglītības izglītojamajam norāda klasi (1–12).",
            )
        )
    elif programme == "vocational" and course is None:
        problems.append(
            Problem(
                "course",
                "course_required",
                "A vocational student has a course (1-4).",
                "Profesionālās izglītības izglītojamajam norāda kursu (1–4).",
            )
        )
    return Checked(columns, code, warnings, problems)
