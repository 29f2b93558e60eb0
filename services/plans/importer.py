"""Student lists from CSV or XLSX: a preview, then one commit of the valid rows.

The preview reads the file, checks every row with the same rules as the API, and keeps a
StudentImport with each row's problems by row number and column, and the valid rows staged with their
codes already hashed and encrypted. Its `errors` column holds the warnings too (`severity`). Commit
creates the staged rows once; a code already registered in the tenant is counted, never duplicated.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import Conflict

from .access import WRITE_ROLES_STUDENTS, ensure_readable, read_scope, require_school_role
from .models import AuditEvent, Student, StudentImport, TimelineEvent
from .settings import PlansSettings
from .student_files import COLUMNS, Table, map_columns, read_table, typed_row
from .student_rules import check_student
from .students import timeline_row, writable_school

# what a preview shows of a staged row: never the hash or the encrypted code
PUBLIC_ROW_KEYS: tuple[str, ...] = (
    "row",
    "first_name",
    "last_name",
    "code_kind",
    "code_hint",
    "birth_date",
    "grade",
    "course",
)
PUBLIC_ROW_KEYS += ("programme", "declared_municipality", "actual_municipality", "warnings")
_CODE_IN_NAME = re.compile(r"\d{6}-?\d{5}")
COMMIT_CHUNK = 1000


@dataclass
class Parsed:
    rows_total: int
    staged: list[dict[str, Any]]
    problems: list[dict[str, Any]]  # errors and warnings by row and column


def check_rows(table: Table, settings: PlansSettings) -> Parsed:
    """Every row checked with the API's rules; valid rows staged with their codes hashed and encrypted."""
    columns, ignored = map_columns(table.headers)

    def column(name: str) -> str:
        if name in columns:
            return table.headers[columns[name]]
        if name == "personal_code" and "student_id_code" in columns:
            return table.headers[columns["student_id_code"]]
        return COLUMNS[name][0]

    def problem(
        row: int, name: str, code: str, message: str, message_lv: str, severity: str = "error"
    ) -> dict[str, Any]:
        return {
            "row": row,
            "column": column(name),
            "field": name,
            "code": code,
            "message": message,
            "message_lv": message_lv,
            "severity": severity,
        }

    problems = [
        {
            "row": table.header_row,
            "column": header,
            "field": None,
            "code": "column_ignored",
            "message": "This column is not used.",
            "message_lv": "Šī kolonna netiek izmantota.",
            "severity": "warning",
        }
        for header in ignored
    ]
    staged: list[dict[str, Any]] = []
    first_seen: dict[str, int] = {}
    for number, cells in table.rows:
        raw = {name: cells[i] if i < len(cells) else None for name, i in columns.items()}
        data, bad = typed_row(raw)
        row_problems = [problem(number, *b) for b in bad]
        checked = check_student(settings, data)
        unparsed = {b[0] for b in bad}
        row_problems += [
            problem(number, p.field, p.code, p.message, p.message_lv)
            for p in checked.problems
            if p.field not in unparsed
        ]
        code = checked.code
        if code is not None and not row_problems:
            if code.hash in first_seen:
                name = "personal_code" if code.kind == "personal_code" else "student_id_code"
                row_problems.append(
                    problem(
                        number,
                        name,
                        "duplicate_in_file",
                        f"The same code as row {first_seen[code.hash]}.",
                        f"Tāds pats kods kā {first_seen[code.hash]}. rindā.",
                    )
                )
            first_seen.setdefault(code.hash, number)
        if row_problems:
            problems.extend(row_problems)
            continue
        c = checked.columns
        for w in checked.warnings:
            problems.append(
                problem(
                    number,
                    "personal_code",
                    w,
                    "The new-format personal code's check digit does not match; check it.",
                    "Jaunā formāta personas koda kontrolcipars nesakrīt; pārbaudiet to.",
                    "warning",
                )
            )
        staged.append(
            {
                "row": number,
                **{k: c[k] for k in ("first_name", "last_name", "code_kind", "code_hash", "code_encrypted")},
                **{k: c[k] for k in ("code_hint", "grade", "course", "programme")},
                **{k: c[k] for k in ("declared_municipality", "actual_municipality")},
                "birth_date": c["birth_date"].isoformat(),
                "warnings": list(checked.warnings),
            }
        )
    return Parsed(len(table.rows), staged, problems)


# ---- preview and commit --------------------------------------------------------------------------


def safe_filename(name: str | None) -> str:
    """The upload's base name, with anything shaped like a personal code masked."""
    base = re.split(r"[\\/]", name or "")[-1].strip() or "upload"
    return _CODE_IN_NAME.sub("***", base)[:200]


def preview(
    session: Session,
    principal: Principal,
    settings: PlansSettings,
    *,
    school_id: uuid.UUID,
    filename: str | None,
    data: bytes,
) -> StudentImport:
    """Read and check a list for a school; the same file again gives back its uncommitted preview."""
    school = writable_school(session, principal, school_id)
    digest = hashlib.sha256(data).hexdigest()
    earlier = session.execute(
        select(StudentImport)
        .where(
            StudentImport.tenant_id == school.tenant_id,
            StudentImport.school_id == school.id,
            StudentImport.sha256 == digest,
            StudentImport.status == "previewed",
        )
        .order_by(StudentImport.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if earlier is not None:  # the same list again: the earlier preview stands, and who sent it again is kept
        _audit(session, principal, "student_import.previewed", earlier, again=True)
        return earlier
    parsed = check_rows(read_table(data, settings.import_max_rows), settings)
    imp = StudentImport(
        id=uuid.uuid4(),
        tenant_id=school.tenant_id,
        school_id=school.id,
        sha256=digest,
        filename=safe_filename(filename),
        status="previewed",
        rows_total=parsed.rows_total,
        rows_valid=len(parsed.staged),
        created_count=0,
        existing_count=0,
        errors=parsed.problems,
        staged_rows=parsed.staged,
        created_by=uuid.UUID(principal.user_id),
    )
    session.add(imp)
    _audit(session, principal, "student_import.previewed", imp, rows_total=imp.rows_total, rows_valid=imp.rows_valid)
    return imp


def readable_import(session: Session, principal: Principal, import_id: uuid.UUID, lock: bool = False) -> StudentImport:
    imp = session.get(StudentImport, import_id, with_for_update=lock)
    return ensure_readable(session, principal, imp, "student import")  # type: ignore[no-any-return]


def commit(session: Session, principal: Principal, import_id: uuid.UUID) -> StudentImport:
    """Create the preview's valid rows once; codes already in the tenant are counted as existing."""
    imp = readable_import(session, principal, import_id, lock=True)
    require_school_role(principal, imp.tenant_id, imp.school_id, *WRITE_ROLES_STUDENTS)
    if imp.status == "committed":
        raise Conflict(
            "import_already_committed",
            "This import was committed already; upload the file again to import it anew.",
            "Šis imports jau ir apstiprināts; lai importētu vēlreiz, augšupielādējiet failu no jauna.",
        )
    writable_school(session, principal, imp.school_id)
    actor = uuid.UUID(principal.user_id)
    now = utcnow()
    created: list[uuid.UUID] = []
    for start in range(0, len(imp.staged_rows), COMMIT_CHUNK):
        values = [_student_values(imp, r, actor, now) for r in imp.staged_rows[start : start + COMMIT_CHUNK]]
        inserted = session.execute(
            pg_insert(Student)
            .values(values)
            .on_conflict_do_nothing(constraint="uq_students_tenant_code")
            .returning(Student.id)
        )
        created.extend(inserted.scalars())
    if created:
        session.execute(
            insert(AuditEvent),
            [
                {
                    "at": now,
                    "actor_id": actor,
                    "action": "student.created",
                    "target_type": "student",
                    "target_id": str(sid),
                    "tenant_id": imp.tenant_id,
                    "request_id": audit.current_request_id(),
                    "details": {"school_id": str(imp.school_id), "import_id": str(imp.id)},
                }
                for sid in created
            ],
        )
        session.execute(
            pg_insert(TimelineEvent)
            .values([timeline_row(sid, imp.tenant_id, "student_created", import_id=imp.id) for sid in created])
            .on_conflict_do_nothing(constraint="uq_timeline_source_key")
        )
    imp.status, imp.committed_at = "committed", now
    imp.created_count, imp.existing_count = len(created), len(imp.staged_rows) - len(created)
    # the students hold the encrypted codes now; the import keeps no second copy
    imp.staged_rows = [{k: v for k, v in r.items() if k != "code_encrypted"} for r in imp.staged_rows]
    _audit(session, principal, "student_import.committed", imp, created=imp.created_count, existing=imp.existing_count)
    return imp


def _student_values(imp: StudentImport, row: Mapping[str, Any], actor: uuid.UUID, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": imp.tenant_id,
        "school_id": imp.school_id,
        **{k: row[k] for k in ("first_name", "last_name", "code_kind", "code_hash", "code_encrypted", "code_hint")},
        **{k: row[k] for k in ("grade", "course", "programme", "declared_municipality", "actual_municipality")},
        "birth_date": date.fromisoformat(row["birth_date"]),
        "active": True,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }


def _audit(session: Session, principal: Principal, action: str, imp: StudentImport, **details: Any) -> None:
    details["school_id"] = imp.school_id
    audit.record(session, principal, action, "student_import", imp.id, tenant_id=imp.tenant_id, **details)


def imports_query(principal: Principal, filters: Mapping[str, Any]) -> Select[Any]:
    query = select(StudentImport).where(read_scope(principal, StudentImport.tenant_id, StudentImport.school_id))
    for key in ("school_id", "status"):
        if filters.get(key) is not None:
            query = query.where(getattr(StudentImport, key) == filters[key])
    return query.order_by(StudentImport.created_at.desc(), StudentImport.id)


def present(imp: StudentImport) -> dict[str, Any]:
    """The preview as shown: errors and warnings by row and column, and the valid rows without codes."""
    problems = imp.errors or []
    return {
        **{c.key: getattr(imp, c.key) for c in StudentImport.__table__.columns if c.key != "staged_rows"},
        "rows_invalid": imp.rows_total - imp.rows_valid,
        "errors": [p for p in problems if p.get("severity") != "warning"],
        "warnings": [p for p in problems if p.get("severity") == "warning"],
        "rows": [
            {k: r.get(k) for k in PUBLIC_ROW_KEYS} | {"birth_date": date.fromisoformat(r["birth_date"])}
            for r in imp.staged_rows
        ],
    }
