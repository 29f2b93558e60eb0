"""Students: create, change, read, list, and search by exact code (the rules are in student_rules).

No Flask here. A personal code is checked and turned into a keyed hash, an encrypted copy and a hint
as soon as it arrives; nothing below logs it, stores it in clear or puts it in an error message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import Conflict, NotFound
from services.common.pagination import paginate

from . import codes
from .access import WRITE_ROLES_STUDENTS, can_read, ensure_readable, has_school_role, read_scope, require_school_role
from .models import SchoolRM, Student, TimelineEvent
from .settings import PlansSettings
from .student_rules import (
    CODE_FIELDS,
    Eligibility,
    Problem,
    StudentInvalid,
    check_code,
    check_student,
    eligible_on,
    riga_today,
)

__all__ = ["Eligibility", "create_student", "eligible_on", "list_students", "read_student", "update_student"]

# field -> (Latvian, English) label, for timeline summaries
LABELS: dict[str, tuple[str, str]] = {
    "first_name": ("vārds", "first name"),
    "last_name": ("uzvārds", "last name"),
    "code": ("personas kods vai ID kods", "personal or student ID code"),
    "school_id": ("skola", "school"),
    "birth_date": ("dzimšanas datums", "date of birth"),
    "grade": ("klase", "class"),
    "course": ("kurss", "course"),
    "programme": ("programma", "programme"),
    "declared_municipality": ("deklarētā dzīvesvieta", "declared residence"),
    "actual_municipality": ("faktiskā dzīvesvieta", "actual residence"),
    "active": ("aktivitāte", "active"),
}


# ---- reading -------------------------------------------------------------------------------------

READ_COLUMNS = (
    "id",
    "tenant_id",
    "school_id",
    "first_name",
    "last_name",
    "code_kind",
    "code_hint",
    "birth_date",
    "grade",
    "course",
    "programme",
    "declared_municipality",
    "actual_municipality",
    "active",
    "created_by",
    "created_at",
    "updated_at",
)


def present(student: Student, day: date, grades_1_4_from: date, **extra: Any) -> dict[str, Any]:
    """The read shape: columns without the code, and eligibility on `day`."""
    verdict = eligible_on(student, day, grades_1_4_from)
    out = {c: getattr(student, c) for c in READ_COLUMNS}
    out["eligibility"] = {"on": day, "eligible": verdict.eligible, "reasons": verdict.reasons}
    out.update(extra)
    return out


def may_write(principal: Principal, student: Student) -> bool:
    return has_school_role(principal, student.tenant_id, student.school_id, *WRITE_ROLES_STUDENTS)


def _formatted(kind: str, normalised: str) -> str:
    return f"{normalised[:6]}-{normalised[6:]}" if kind == "personal_code" else normalised


def read_student(
    session: Session, principal: Principal, settings: PlansSettings, student_id: uuid.UUID, day: date | None
) -> dict[str, Any]:
    """One student; the code in clear only for roles that may change students (and that is audited)."""
    student = ensure_readable(session, principal, session.get(Student, student_id), "student")
    extra: dict[str, Any] = {}
    if may_write(principal, student):
        clear = codes.decrypt(settings.personal_code_key, student.code_encrypted)
        extra["personal_code" if student.code_kind == "personal_code" else "student_id_code"] = _formatted(
            student.code_kind, clear
        )
        _audit(session, principal, "student.code_read", student)
    return present(student, day or riga_today(), settings.grades_1_4_eligible_from, **extra)


# a plain letter also finds its Latvian accented forms: "kalnina" finds "Kalniņa"
_LATVIAN = {
    "a": "ā",
    "c": "č",
    "e": "ē",
    "g": "ģ",
    "i": "ī",
    "k": "ķ",
    "l": "ļ",
    "n": "ņ",
    "s": "š",
    "u": "ū",
    "z": "ž",
}


def name_pattern(term: str) -> str:
    """A POSIX regex matching `term` case- and accent-blind under any database locale (C included)."""
    out = []
    for ch in term.lower():
        forms = {ch, ch.upper(), *(f for a in _LATVIAN.get(ch, "") for f in (a, a.upper()))}
        out.append("[" + "".join("\\" + f if f in "\\[]^-" else f for f in sorted(forms) if len(f) == 1) + "]")
    return "".join(out)


def students_query(principal: Principal, filters: Mapping[str, Any]) -> Select[Any]:
    query = select(Student).where(read_scope(principal, Student.tenant_id, Student.school_id))
    for key in ("school_id", "grade", "course", "programme", "active"):
        if filters.get(key) is not None:
            query = query.where(getattr(Student, key) == filters[key])
    for term in (filters.get("q") or "").split():
        pattern = name_pattern(term)
        query = query.where(or_(Student.first_name.regexp_match(pattern), Student.last_name.regexp_match(pattern)))
    return query.order_by(Student.last_name, Student.first_name, Student.id)


def _page(session: Session, settings: PlansSettings, query: Select[Any], args: Mapping[str, Any]) -> dict[str, Any]:
    page = paginate(session, query, args["page"], args["page_size"])
    day = args.get("on") or riga_today()
    page["items"] = [present(s, day, settings.grades_1_4_eligible_from) for s in page["items"]]
    return page


def list_students(
    session: Session, principal: Principal, settings: PlansSettings, args: Mapping[str, Any]
) -> dict[str, Any]:
    """A page of the students the principal may read, filtered by school, class, course and name."""
    return _page(session, settings, students_query(principal, args), args)


def search_students(
    session: Session, principal: Principal, settings: PlansSettings, args: Mapping[str, Any]
) -> dict[str, Any]:
    """The students whose code is exactly the one given (by keyed hash; never a partial match)."""
    given = {f: args[f] for f in CODE_FIELDS if args.get(f)}
    if len(given) != 1:
        raise StudentInvalid(
            [
                Problem(
                    "personal_code",
                    "code_required",
                    "Give exactly one of a personal code or a student ID code.",
                    "Norādiet vienu: personas kodu vai izglītojamā ID kodu.",
                )
            ]
        )
    ((input_field, raw),) = given.items()
    checked = check_code(settings, CODE_FIELDS[input_field], raw)
    if isinstance(checked, Problem):
        raise StudentInvalid([checked])
    query = students_query(principal, {}).where(Student.code_kind == checked.kind, Student.code_hash == checked.hash)
    return _page(session, settings, query, args)


# ---- writing -------------------------------------------------------------------------------------


def writable_school(session: Session, principal: Principal, school_id: uuid.UUID) -> SchoolRM:
    """A school of the principal's tenant where they may change students (404 outside the tenant)."""
    school = session.get(SchoolRM, school_id)
    if school is None or str(school.tenant_id) not in principal.tenant_ids():
        raise NotFound("school")
    require_school_role(
        principal, school.tenant_id, school.id, *WRITE_ROLES_STUDENTS, detail="You may not change students here."
    )
    if not school.active:
        raise Conflict("school_inactive", "The school is inactive.", "Skola nav aktīva.")
    return school


def _audit(session: Session, principal: Principal, action: str, student: Student, **details: Any) -> None:
    audit.record(session, principal, action, "student", student.id, tenant_id=student.tenant_id, **details)


def timeline_row(
    student_id: uuid.UUID, tenant_id: uuid.UUID, kind: str, fields: Iterable[str] = (), **details: Any
) -> dict[str, Any]:
    """A timeline event about a student's record (created or changed); only field names, never values."""
    names = sorted(fields)
    if kind == "student_created":
        lv, en = "Izglītojamais reģistrēts", "Student registered"
        key = f"student_created:{student_id}"
    else:
        lv = "Izglītojamā dati mainīti: " + ", ".join(LABELS[n][0] for n in names)
        en = "Student details changed: " + ", ".join(LABELS[n][1] for n in names)
        key = f"student_updated:{student_id}:{uuid.uuid4().hex}"
    if details.get("import_id"):
        lv, en = f"{lv} (imports)", f"{en} (import)"
    return {
        "tenant_id": tenant_id,
        "student_id": student_id,
        "plan_id": None,
        "at": utcnow(),
        "source": "plans",
        "source_key": key,
        "kind": kind,
        "summary_lv": lv + ".",
        "summary_en": en + ".",
        "details": {**({"fields": names} if names else {}), **{k: str(v) for k, v in details.items()}},
    }


def _exists() -> Conflict:
    return Conflict(
        "student_exists",
        "A student with this code is already registered in this tenant.",
        "Izglītojamais ar šo kodu šajā pašvaldībā vai iestādē jau ir reģistrēts.",
    )


def _refuse_duplicate(
    session: Session, principal: Principal, tenant_id: uuid.UUID, code_hash: str, but: uuid.UUID | None = None
) -> None:
    query = select(Student).where(Student.tenant_id == tenant_id, Student.code_hash == code_hash)
    if but is not None:
        query = query.where(Student.id != but)
    other = session.execute(query).scalar_one_or_none()
    if other is not None:
        err = _exists()
        if can_read(session, principal, other.tenant_id, other.school_id):
            err.extra["existing_student_id"] = str(other.id)
        raise err


def _flush(session: Session) -> None:
    """Flush in a savepoint; two writers racing for one code end in a 409, not a 500."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _exists() from None


def create_student(
    session: Session, principal: Principal, settings: PlansSettings, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Register a student in a school of the principal's tenant."""
    school = writable_school(session, principal, data["school_id"])
    checked = check_student(settings, data)
    if checked.problems:
        raise StudentInvalid(checked.problems)
    assert checked.code is not None
    _refuse_duplicate(session, principal, school.tenant_id, checked.code.hash)
    student = Student(
        id=uuid.uuid4(),
        tenant_id=school.tenant_id,
        school_id=school.id,
        created_by=uuid.UUID(principal.user_id),
        active=True,
        **checked.columns,
    )
    session.add(student)
    _flush(session)
    _audit(session, principal, "student.created", student, school_id=str(school.id))
    session.add(TimelineEvent(**timeline_row(student.id, student.tenant_id, "student_created")))
    return present(student, riga_today(), settings.grades_1_4_eligible_from, warnings=checked.warnings)


_PLAIN: tuple[str, ...] = ("first_name", "last_name", "birth_date", "grade", "course", "programme")
_PLAIN += ("declared_municipality", "actual_municipality")


def update_student(
    session: Session, principal: Principal, settings: PlansSettings, student_id: uuid.UUID, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a student's data; the code, class or school too, with every rule checked again."""
    student = ensure_readable(session, principal, session.get(Student, student_id, with_for_update=True), "student")
    require_school_role(
        principal,
        student.tenant_id,
        student.school_id,
        *WRITE_ROLES_STUDENTS,
        detail="You may not change students here.",
    )
    changed: set[str] = set()
    if data.get("school_id") is not None and data["school_id"] != student.school_id:
        school = writable_school(session, principal, data["school_id"])
        if school.tenant_id != student.tenant_id:
            raise NotFound("school")
        changed.add("school_id")

    candidate: dict[str, Any] = {k: data.get(k, getattr(student, k)) for k in _PLAIN}
    new_code = any(f in data for f in CODE_FIELDS)
    if new_code:
        candidate.update({f: data.get(f) for f in CODE_FIELDS})
        if "birth_date" not in data:
            candidate["birth_date"] = None  # taken from a new old-format code, or asked for
    else:
        clear = codes.decrypt(settings.personal_code_key, student.code_encrypted)
        candidate["personal_code" if student.code_kind == "personal_code" else "student_id_code"] = clear
    if "programme" not in data and ("grade" in data or "course" in data) and student.programme != "further_training":
        candidate["programme"] = None  # follows the class or course
    checked = check_student(settings, candidate)
    if checked.problems:
        raise StudentInvalid(checked.problems)
    assert checked.code is not None

    columns = checked.columns
    if new_code and columns["code_hash"] != student.code_hash:
        _refuse_duplicate(session, principal, student.tenant_id, columns["code_hash"], but=student.id)
        for key in ("code_kind", "code_hash", "code_encrypted", "code_hint"):
            setattr(student, key, columns[key])
        changed.add("code")
    for key in _PLAIN:
        if getattr(student, key) != columns[key]:
            setattr(student, key, columns[key])
            changed.add(key)
    if "school_id" in changed:
        student.school_id = data["school_id"]
    if data.get("active") is not None and data["active"] != student.active:
        student.active = data["active"]
        changed.add("active")
    if not changed:
        audit.unchanged()
    else:
        _flush(session)
        _audit(session, principal, "student.updated", student, fields=sorted(changed))
        session.add(TimelineEvent(**timeline_row(student.id, student.tenant_id, "student_updated", changed)))
    return present(student, riga_today(), settings.grades_1_4_eligible_from, warnings=checked.warnings)
