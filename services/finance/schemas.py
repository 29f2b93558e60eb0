"""Finance's request and response schemas (separate ones for creating and reading)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.common.contracts.finance import REVIEW_VERDICTS, RULE_OUTCOMES
from services.common.months import Month
from services.common.pagination import PageArgs, page_schema

Money = fields.Decimal(as_string=True, places=2)


# ---- settings -----------------------------------------------------------------------------------


class SettingsRevisionSchema(Schema):
    revision = fields.Integer()
    effective_from = fields.Date()
    example_values = fields.Boolean(metadata={"description": "true while the values are EXAMPLES, not facts"})
    reason = fields.String()
    created_by = fields.UUID(allow_none=True)
    created_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)
    values = fields.Dict(metadata={"description": "rates, caps, semesters, deadline and budget values"})


class CapSchema(Schema):
    per_day = fields.Decimal(as_string=True, allow_none=True)
    per_month = fields.Decimal(as_string=True, allow_none=True)
    per_semester = fields.Decimal(as_string=True, allow_none=True)


class SemesterSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    school_type = fields.String(required=True, validate=validate.OneOf(["general", "vocational"]))
    school_year = fields.String(required=True)
    number = fields.Integer(required=True, validate=validate.OneOf([1, 2]))
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    tenant_id = fields.UUID(load_default=None, allow_none=True)


class SettingsChangeSchema(Schema):
    """A change: the values given replace the newest revision's, from `effective_from` on."""

    effective_from = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=5, max=2000))
    example_values = fields.Boolean(metadata={"description": "false once the values are the official ones"})
    consultation_rates = fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True))
    preparation_rate = fields.Decimal(as_string=True)
    preparation_hours_cap = fields.Decimal(as_string=True)
    compensation_caps = fields.Dict(keys=fields.String(), values=fields.Nested(CapSchema))
    semesters = fields.List(fields.Nested(SemesterSchema), metadata={"description": "replaces the whole list"})
    deadline_day = fields.Integer(validate=validate.Range(min=1, max=28))
    statement_day = fields.Integer(validate=validate.Range(min=1, max=28))
    budget_per_student_semester = fields.Decimal(as_string=True)
    tenant_budgets = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True))
    )
    budget_warn_share = fields.Decimal(as_string=True)


# ---- claims and checks --------------------------------------------------------------------------


class ResultSchema(Schema):
    rule_id = fields.String()
    rule_version = fields.Integer()
    outcome = fields.String(metadata={"enum": list(RULE_OUTCOMES)})
    blocks_as = fields.String(allow_none=True)
    overridden = fields.Boolean()
    explanation_lv = fields.String()
    explanation_en = fields.String()
    evidence = fields.Dict()


class RunSchema(Schema):
    number = fields.Integer()
    trigger = fields.String(metadata={"description": "document | attestation | plan | settings | override"})
    settings_revision = fields.Integer(allow_none=True)
    verdict = fields.String()
    previous_verdict = fields.String(allow_none=True)
    changes = fields.List(fields.Dict(), metadata={"description": "settings values and rule outcomes that moved"})
    reason_lv = fields.String()
    reason_en = fields.String()
    at = fields.AwareDateTime()


class OverrideSchema(Schema):
    id = fields.UUID()
    claim_id = fields.UUID()
    rules = fields.List(fields.String())
    reason = fields.String()
    state = fields.String()
    requested_by = fields.UUID()
    requested_at = fields.AwareDateTime()
    confirmed_by = fields.UUID(allow_none=True)
    confirmed_at = fields.AwareDateTime(allow_none=True)
    confirm_note = fields.String(allow_none=True)


class ClaimSchema(Schema):
    id = fields.UUID()
    document_id = fields.UUID()
    version = fields.Integer()
    line = fields.Integer()
    tenant_id = fields.UUID()
    school_id = fields.UUID(allow_none=True)
    plan_id = fields.UUID()
    student_id = fields.UUID()
    kind = fields.String()
    category = fields.String()
    month = Month()
    amount = Money
    status = fields.String(metadata={"enum": list(REVIEW_VERDICTS)})
    superseded = fields.Boolean()
    runs = fields.Integer()
    settings_revision = fields.Integer(allow_none=True)
    checked_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()


class ClaimDetailSchema(ClaimSchema):
    results = fields.List(fields.Nested(ResultSchema), attribute="current_results")
    history = fields.List(fields.Nested(RunSchema))
    overrides = fields.List(fields.Nested(OverrideSchema))


class ClaimListArgs(PageArgs):
    tenant_id = fields.UUID()
    school_id = fields.UUID()
    plan_id = fields.UUID()
    student_id = fields.UUID()
    document_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(REVIEW_VERDICTS))
    month = Month()
    category = fields.String()
    include_superseded = fields.Boolean(load_default=False)


class OverrideRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=10, max=2000))


class OverrideConfirmSchema(Schema):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


# ---- attestations, reservations -----------------------------------------------------------------


class AttestationSchema(Schema):
    id = fields.UUID()
    document_id = fields.UUID()
    version = fields.Integer()
    tenant_id = fields.UUID()
    school_id = fields.UUID(allow_none=True)
    student_id = fields.UUID()
    plan_id = fields.UUID(allow_none=True)
    issuer = fields.String(allow_none=True)
    issued_on = fields.Date(metadata={"description": "the date obtained"})
    valid_from = fields.Date()
    valid_to = fields.Date()
    semester = fields.String(allow_none=True)
    categories = fields.List(fields.String())
    replaced_by = fields.UUID(allow_none=True)
    registered_at = fields.AwareDateTime()


class AttestationListArgs(PageArgs):
    tenant_id = fields.UUID()
    student_id = fields.UUID()
    semester = fields.String()
    include_replaced = fields.Boolean(load_default=False)


class ReservationSchema(Schema):
    plan_id = fields.UUID()
    tenant_id = fields.UUID()
    semester = fields.String()
    reserved = Money
    released = Money
    state = fields.String(metadata={"description": "held | released"})
    reason = fields.String(allow_none=True)
    updated_at = fields.AwareDateTime()


class ReservationListArgs(PageArgs):
    tenant_id = fields.UUID()
    plan_id = fields.UUID()
    semester = fields.String()
    state = fields.String(validate=validate.OneOf(["held", "released"]))


# ---- statements ---------------------------------------------------------------------------------


class StatementFileSchema(Schema):
    format = fields.String()
    document_id = fields.UUID(metadata={"description": "download it from documents"})
    sha256 = fields.String()
    size = fields.Integer()
    media_type = fields.String()
    filename = fields.String()


class StatementSchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    month = Month()
    number = fields.Integer()
    trigger = fields.String()
    requested_by = fields.UUID(allow_none=True)
    total = Money
    totals = fields.Dict(metadata={"description": "per category and per student"})
    csv_sha256 = fields.String()
    created_at = fields.AwareDateTime()
    files = fields.List(fields.Nested(StatementFileSchema))


class StatementCreateSchema(Schema):
    tenant_id = fields.UUID(required=True)
    month = Month(required=True)


class StatementListArgs(PageArgs):
    tenant_id = fields.UUID()
    month = Month()


# ---- overview -----------------------------------------------------------------------------------


class CategoryFigures(Schema):
    category = fields.String()
    claimed = Money
    accepted = Money
    paid = Money


class _Figures(Schema):
    budget = fields.Decimal(as_string=True, places=2, allow_none=True)
    reserved = Money
    released = Money
    claimed = Money
    accepted = Money
    paid = Money
    remaining = fields.Decimal(as_string=True, places=2, allow_none=True)
    by_category = fields.List(fields.Nested(CategoryFigures))


class TenantOverviewSchema(_Figures):
    tenant_id = fields.UUID()
    tenant_name = fields.String()
    region = fields.String()
    semester = fields.String()


class TotalsSchema(_Figures):
    tenants = fields.Integer()


class RegionTotalsSchema(TotalsSchema):
    region = fields.String()


class RegionOverviewSchema(Schema):
    region = fields.String()
    semester = fields.String()
    tenants = fields.List(fields.Nested(TenantOverviewSchema))
    total = fields.Nested(TotalsSchema)


class AllOverviewSchema(Schema):
    semester = fields.String()
    regions = fields.List(fields.Nested(RegionTotalsSchema))
    total = fields.Nested(TotalsSchema)


class OverviewArgs(Schema):
    semester = fields.String(required=True, validate=validate.Length(min=1, max=40))


ClaimPage = page_schema(ClaimSchema, "ClaimPage")
AttestationPage = page_schema(AttestationSchema, "AttestationPage")
ReservationPage = page_schema(ReservationSchema, "ReservationPage")
StatementPage = page_schema(StatementSchema, "StatementPage")
