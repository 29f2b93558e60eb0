"""Plans API: students (create, change, read, list, search by exact code) and their bulk import."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from services.common.audit import audited, not_audited
from services.common.auth import current_principal, require_roles
from services.common.errors import ApiError
from services.common.pagination import paginate
from services.common.web import accepts_body_up_to

from . import importer, students
from .access import WRITE_ROLES_STUDENTS
from .students_schemas import (
    EligibilityDayArgs,
    ImportFileSchema,
    ImportListArgs,
    ImportTargetArgs,
    StudentCreateSchema,
    StudentDetailSchema,
    StudentImportPage,
    StudentImportSchema,
    StudentListArgs,
    StudentPage,
    StudentSearchSchema,
    StudentUpdateSchema,
    StudentWrittenSchema,
)
from .web import BEARER, rt, settings

students_blp = Blueprint(
    "students",
    __name__,
    url_prefix="/students",
    description="Students of a tenant; personal codes only in bodies, found only by exact match. / Izglītojamie.",
)
imports_blp = Blueprint(
    "student_imports",
    __name__,
    url_prefix="/students/imports",
    description="Student lists from CSV or XLSX: preview, then commit. / Izglītojamo saraksta imports.",
)

MULTIPART_SLACK = 64 * 1024  # the form's boundaries and headers around the file


def _too_large(_limit: int = 0) -> ApiError:
    mb = settings().import_max_bytes / (1024 * 1024)
    return ApiError(
        413,
        "import_too_large",
        f"The file is larger than {mb:g} MB.",
        detail_lv=f"Fails ir lielāks par {mb:g} MB.",
    )


# ---- students -----------------------------------------------------------------------------------


@students_blp.route("")
class Students(MethodView):
    @students_blp.arguments(StudentListArgs, location="query", unknown=RAISE)
    @students_blp.response(200, StudentPage)
    @students_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List the students you can see (filter by school, class, course, programme, name)."""
        with rt().db.transaction() as session:
            return students.list_students(session, current_principal(), settings(), args)

    @require_roles(*WRITE_ROLES_STUDENTS)
    @audited("student.created")
    @students_blp.arguments(StudentCreateSchema)
    @students_blp.response(201, StudentWrittenSchema)
    @students_blp.alt_response(409, description="A student with this code exists in the tenant (student_exists)")
    @students_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a student in a school of your tenant; the personal code is checked and stored encrypted."""
        with rt().db.transaction() as session:
            return students.create_student(session, current_principal(), settings(), data)


@students_blp.route("/search")
class StudentSearch(MethodView):
    @not_audited("A read, a POST only to keep the code out of URLs; a code shown is audited (student.code_read).")
    @students_blp.arguments(StudentSearchSchema)
    @students_blp.response(200, StudentPage)
    @students_blp.doc(security=BEARER)
    def post(self, args: dict[str, Any]) -> Any:
        """Find students by the exact personal code or student ID code, sent in the body (never in a URL)."""
        with rt().db.transaction() as session:
            return students.search_students(session, current_principal(), settings(), args)


@students_blp.route("/<uuid:student_id>")
class StudentById(MethodView):
    @students_blp.arguments(EligibilityDayArgs, location="query", unknown=RAISE)
    @students_blp.response(200, StudentDetailSchema)
    @students_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], student_id: uuid.UUID) -> Any:
        """Read a student; roles that may change students also get the code (each such read is audited)."""
        with rt().db.transaction() as session:
            return students.read_student(session, current_principal(), settings(), student_id, args.get("on"))

    @require_roles(*WRITE_ROLES_STUDENTS)
    @audited("student.updated")
    @students_blp.arguments(StudentUpdateSchema)
    @students_blp.response(200, StudentWrittenSchema)
    @students_blp.doc(security=BEARER)
    def patch(self, data: dict[str, Any], student_id: uuid.UUID) -> Any:
        """Change a student's data (names, code, class or course, school, residence, activity)."""
        with rt().db.transaction() as session:
            return students.update_student(session, current_principal(), settings(), student_id, data)


# ---- imports ------------------------------------------------------------------------------------


@imports_blp.route("")
class StudentImports(MethodView):
    @imports_blp.arguments(ImportListArgs, location="query", unknown=RAISE)
    @imports_blp.response(200, StudentImportPage)
    @imports_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List the student imports you can see, newest first."""
        with rt().db.transaction() as session:
            query = importer.imports_query(current_principal(), args)
            return paginate(session, query, args["page"], args["page_size"])

    @require_roles(*WRITE_ROLES_STUDENTS)
    @audited("student_import.previewed")
    @accepts_body_up_to(lambda: settings().import_max_bytes + MULTIPART_SLACK, _too_large)
    @imports_blp.arguments(ImportTargetArgs, location="query", unknown=RAISE)
    @imports_blp.arguments(ImportFileSchema, location="files")
    @imports_blp.response(201, StudentImportSchema)
    @imports_blp.alt_response(413, description="The file is larger than the limit (import_too_large)")
    @imports_blp.doc(security=BEARER)
    def post(self, target: dict[str, Any], files: dict[str, Any]) -> Any:
        """Upload a list for a school and preview it: every row's errors by row and column, nothing created yet."""
        upload = files["file"]
        data = upload.stream.read(settings().import_max_bytes + 1)
        if len(data) > settings().import_max_bytes:
            raise _too_large()
        with rt().db.transaction() as session:
            imp = importer.preview(
                session,
                current_principal(),
                settings(),
                school_id=target["school_id"],
                filename=upload.filename,
                data=data,
            )
            return importer.present(imp)


@imports_blp.route("/<uuid:import_id>")
class StudentImportById(MethodView):
    @imports_blp.response(200, StudentImportSchema)
    @imports_blp.doc(security=BEARER)
    def get(self, import_id: uuid.UUID) -> Any:
        """Read an import's preview (or its result, once committed)."""
        with rt().db.transaction() as session:
            return importer.present(importer.readable_import(session, current_principal(), import_id))


@imports_blp.route("/<uuid:import_id>/commit")
class StudentImportCommit(MethodView):
    @require_roles(*WRITE_ROLES_STUDENTS)
    @audited("student_import.committed")
    @imports_blp.response(200, StudentImportSchema)
    @imports_blp.alt_response(409, description="Committed already (import_already_committed)")
    @imports_blp.doc(security=BEARER)
    def post(self, import_id: uuid.UUID) -> Any:
        """Create the previewed valid rows, once; codes the tenant already has are counted, not duplicated."""
        with rt().db.transaction() as session:
            return importer.present(importer.commit(session, current_principal(), import_id))


BLUEPRINTS: tuple[Blueprint, ...] = (students_blp, imports_blp)
