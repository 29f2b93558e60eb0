"""Request and response schemas of the students API (separate create, update and read shapes).

A code is only ever accepted in a JSON or multipart body, never in a URL; the read shapes show its
hint and kind, and the code itself only on a single read by a role that may change students.
"""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import RAISE, Schema, fields, validate

from services.common.pagination import PageArgs, page_schema

from .student_rules import PROGRAMMES

_NAME = validate.Length(min=1, max=100)
_CODE_HELP = "11 digits, DDMMYY-XXXXX or the new 32-39 format. Never put it in a URL."
_STUDENT_ID_HELP = "For a student without a Latvian personal code: the school's student ID code."


class Strict(Schema):
    class Meta:
        unknown = RAISE


class EligibilitySchema(Schema):
    on = fields.Date(metadata={"description": "The day eligibility was evaluated for (Europe/Riga)."})
    eligible = fields.Boolean()
    reasons = fields.List(
        fields.String(),
        metadata={
            "description": "Why not: further_training_not_eligible, grades_1_4_not_yet_eligible, "
            "grade_or_course_required, student_inactive, ..."
        },
    )


class StudentSchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    school_id = fields.UUID()
    first_name = fields.String()
    last_name = fields.String()
    code_kind = fields.String(metadata={"description": "personal_code | student_id"})
    code_hint = fields.String(metadata={"description": "What may be shown of the code, e.g. 140312-*****."})
    birth_date = fields.Date()
    grade = fields.Integer(allow_none=True, metadata={"description": "General education class 1-12."})
    course = fields.Integer(allow_none=True, metadata={"description": "Vocational course 1-4."})
    programme = fields.String(metadata={"description": "general | vocational | further_training"})
    declared_municipality = fields.String()
    actual_municipality = fields.String()
    active = fields.Boolean()
    eligibility = fields.Nested(EligibilitySchema)
    created_by = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class StudentDetailSchema(StudentSchema):
    personal_code = fields.String(
        metadata={"description": "The personal code, only for roles that may change students (each read is audited)."}
    )
    student_id_code = fields.String(metadata={"description": "The student ID code, on the same terms."})


class StudentWrittenSchema(StudentSchema):
    warnings = fields.List(
        fields.String(),
        metadata={"description": "Accepted with a warning, e.g. personal_code_checksum (new-format code)."},
    )


class StudentCreateSchema(Strict):
    school_id = fields.UUID(required=True)
    first_name = fields.String(required=True, validate=_NAME)
    last_name = fields.String(required=True, validate=_NAME)
    personal_code = fields.String(
        load_only=True, validate=validate.Length(max=20), metadata={"description": _CODE_HELP}
    )
    student_id_code = fields.String(
        load_only=True, validate=validate.Length(max=40), metadata={"description": _STUDENT_ID_HELP}
    )
    birth_date = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "Taken from an old-format personal code when omitted; must agree with it."},
    )
    grade = fields.Integer(load_default=None, allow_none=True, metadata={"description": "Class 1-12."})
    course = fields.Integer(load_default=None, allow_none=True, metadata={"description": "Vocational course 1-4."})
    programme = fields.String(
        validate=validate.OneOf(PROGRAMMES),
        metadata={"description": "Default: vocational with a course, general with a class."},
    )
    declared_municipality = fields.String(required=True, validate=_NAME)
    actual_municipality = fields.String(required=True, validate=_NAME)


class StudentUpdateSchema(Strict):
    school_id = fields.UUID(metadata={"description": "Another school of the same tenant."})
    first_name = fields.String(validate=_NAME)
    last_name = fields.String(validate=_NAME)
    personal_code = fields.String(
        load_only=True, validate=validate.Length(max=20), metadata={"description": _CODE_HELP}
    )
    student_id_code = fields.String(
        load_only=True, validate=validate.Length(max=40), metadata={"description": _STUDENT_ID_HELP}
    )
    birth_date = fields.Date()
    grade = fields.Integer(allow_none=True)
    course = fields.Integer(allow_none=True)
    programme = fields.String(validate=validate.OneOf(PROGRAMMES))
    declared_municipality = fields.String(validate=_NAME)
    actual_municipality = fields.String(validate=_NAME)
    active = fields.Boolean()


class EligibilityDayArgs(Schema):
    class Meta:
        unknown = RAISE

    on = fields.Date(metadata={"description": "Evaluate eligibility for this day (default: today in Riga)."})


class StudentListArgs(PageArgs):
    class Meta:
        unknown = RAISE

    school_id = fields.UUID()
    grade = fields.Integer()
    course = fields.Integer()
    programme = fields.String(validate=validate.OneOf(PROGRAMMES))
    active = fields.Boolean()
    q = fields.String(validate=validate.Length(min=1, max=100), metadata={"description": "Part of a name."})
    on = fields.Date(metadata={"description": "Evaluate eligibility for this day (default: today in Riga)."})


class StudentSearchSchema(PageArgs, Strict):
    personal_code = fields.String(validate=validate.Length(max=20), metadata={"description": _CODE_HELP})
    student_id_code = fields.String(validate=validate.Length(max=40), metadata={"description": _STUDENT_ID_HELP})
    on = fields.Date(metadata={"description": "Evaluate eligibility for this day (default: today in Riga)."})


StudentPage = page_schema(StudentSchema, "StudentPage")


# ---- imports -------------------------------------------------------------------------------------


class ImportFileSchema(Schema):
    file = Upload(
        required=True,
        metadata={"description": "CSV (UTF-8, ';' or ',') or XLSX with a header row; Latvian or English headers."},
    )


class ImportTargetArgs(Schema):
    class Meta:
        unknown = RAISE

    school_id = fields.UUID(required=True, metadata={"description": "The school the students belong to."})


class ImportProblemSchema(Schema):
    row = fields.Integer(metadata={"description": "Row number as the spreadsheet shows it (the header is row 1)."})
    column = fields.String(metadata={"description": "The column's header as written in the file."})
    field = fields.String(allow_none=True)
    code = fields.String()
    message = fields.String()
    message_lv = fields.String()


class ImportRowSchema(Schema):
    row = fields.Integer()
    first_name = fields.String()
    last_name = fields.String()
    code_kind = fields.String()
    code_hint = fields.String()
    birth_date = fields.Date()
    grade = fields.Integer(allow_none=True)
    course = fields.Integer(allow_none=True)
    programme = fields.String()
    declared_municipality = fields.String()
    actual_municipality = fields.String()
    warnings = fields.List(fields.String())


class StudentImportSummarySchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    school_id = fields.UUID()
    filename = fields.String()
    sha256 = fields.String()
    status = fields.String(metadata={"description": "previewed | committed"})
    rows_total = fields.Integer()
    rows_valid = fields.Integer()
    created_count = fields.Integer(metadata={"description": "Students created by the commit."})
    existing_count = fields.Integer(metadata={"description": "Valid rows whose code the tenant already had."})
    created_by = fields.UUID()
    created_at = fields.DateTime()
    committed_at = fields.DateTime(allow_none=True)


class StudentImportSchema(StudentImportSummarySchema):
    rows_invalid = fields.Integer()
    errors = fields.List(fields.Nested(ImportProblemSchema))
    warnings = fields.List(fields.Nested(ImportProblemSchema))
    rows = fields.List(fields.Nested(ImportRowSchema), metadata={"description": "The valid rows, without codes."})


class ImportListArgs(PageArgs):
    class Meta:
        unknown = RAISE

    school_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(["previewed", "committed"]))


StudentImportPage = page_schema(StudentImportSummarySchema, "StudentImportPage")
