"""Messages finance sends: its verdict on a document, with one explained reason per rule."""

from marshmallow import fields, validate

from .base import CONTRACT, Empty, Payload

REVIEW_VERDICTS = ("checking", "accepted", "needs_fix", "rejected")
# each rule's outcome (issue 5): pass, warn (accepted, but a person should look) or block; a rule that
# does not concern the claim (an attestation for consultation hours) says not_applicable
RULE_OUTCOMES = ("pass", "warn", "block", "not_applicable")


class Reason(Payload):
    rule_id = fields.String(required=True, validate=validate.Length(min=1, max=80))
    rule_version = fields.Integer(required=True, validate=validate.Range(min=1))
    outcome = fields.String(required=True, validate=validate.OneOf(RULE_OUTCOMES))
    explanation_lv = fields.String(required=True, validate=validate.Length(max=2000))
    explanation_en = fields.String(required=True, validate=validate.Length(max=2000))


class SetReviewStatus(Payload):
    """A verdict on one version of a document (finance's on evidence, plans' on an application); documents
    keeps it in the document's history."""

    document_id = fields.UUID(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    tenant_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REVIEW_VERDICTS))
    reasons = fields.List(fields.Nested(Reason), required=True)
    decided_at = fields.AwareDateTime(required=True)
    # who decided: finance (expense documents, attestations) or plans (applications)
    source = fields.String(load_default="finance", validate=validate.OneOf(["finance", "plans"]))


CONTRACT.task(
    "documents.set_review_status",
    version=1,
    schema=SetReviewStatus,
    description="Set a document's review status from finance's verdict, with the reasons.",
)


# ---- finance -> plans ---------------------------------------------------------------------------


class SemesterPayload(Payload):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    school_type = fields.String(required=True, validate=validate.OneOf(["general", "vocational"]))
    school_year = fields.String(required=True)
    number = fields.Integer(required=True, validate=validate.OneOf([1, 2]))
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    tenant_id = fields.UUID(load_default=None, allow_none=True)  # a vocational school's own semester


class ProgrammeSettings(Payload):
    """The programme settings in force, as plans needs them to compute planned financing."""

    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    effective_from = fields.Date(required=True)
    consultation_rates = fields.Dict(keys=fields.String(), values=fields.Decimal(as_string=True), required=True)
    preparation_rate = fields.Decimal(required=True, as_string=True)
    preparation_hours_cap = fields.Decimal(required=True, as_string=True)
    compensation_categories = fields.List(fields.String(), required=True)
    semesters = fields.List(fields.Nested(SemesterPayload), required=True)
    example_values = fields.Boolean(required=True)  # true while values are examples, not published facts


class PlanPaid(Payload):
    plan_id = fields.UUID(required=True)
    paid_so_far = fields.Decimal(required=True, as_string=True, places=2)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))


CONTRACT.task(
    "plans.sync_programme_settings",
    version=1,
    schema=ProgrammeSettings,
    description="Keep plans' copy of the programme settings (rates, caps, semesters).",
)
CONTRACT.task(
    "plans.plan_paid",
    version=1,
    schema=PlanPaid,
    description="What finance has paid for a plan so far, preparation included.",
)


# ---- finance -> notifications -------------------------------------------------------------------

NOTIFIED_VERDICTS = ("needs_fix", "rejected")


class VerdictReason(Payload):
    """One failed rule in a sentence a person can act on, in Latvian and English."""

    rule_id = fields.String(required=True, validate=validate.Length(min=1, max=80))
    text_lv = fields.String(required=True, validate=validate.Length(min=1, max=500))
    text_en = fields.String(required=True, validate=validate.Length(min=1, max=500))


class DocumentVerdict(Payload):
    """A verdict someone must act on: the uploader and the school's coordinator are told why."""

    document_id = fields.UUID(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(load_default=None, allow_none=True)  # none: a tenant-wide document
    plan_id = fields.UUID(load_default=None, allow_none=True)
    uploaded_by = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(NOTIFIED_VERDICTS))
    reasons = fields.List(fields.Nested(VerdictReason), required=True)
    decided_at = fields.AwareDateTime(required=True)


class StatementReady(Payload):
    """A tenant's monthly reimbursement statement is built and stored with the documents."""

    statement_id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    month = fields.Date(required=True, metadata={"description": "first day of the month"})
    document_id = fields.UUID(load_default=None, allow_none=True)
    total = fields.Decimal(required=True, as_string=True, places=2)


class SchoolCalendar(Payload):
    """The school calendar and the monthly deadline, self-contained, for reminders."""

    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    # the expense package of a month is due on this day of the following month
    deadline_day = fields.Integer(required=True, validate=validate.Range(min=1, max=28))
    semesters = fields.List(fields.Nested(SemesterPayload), required=True)


class PackageReceived(Payload):
    """Finance has an expense document of this school (or tenant) for the month: the package is not missing."""

    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(load_default=None, allow_none=True)
    month = fields.Date(required=True, metadata={"description": "first day of the month"})


CONTRACT.task(
    "notifications.document_verdict",
    version=1,
    schema=DocumentVerdict,
    description="Tell the uploader and the school coordinator that a document needs fixing or was rejected.",
)
CONTRACT.task(
    "notifications.statement_ready",
    version=1,
    schema=StatementReady,
    description="Tell the tenant's accountants that a reimbursement statement is ready.",
)
CONTRACT.task(
    "notifications.sync_calendar",
    version=1,
    schema=SchoolCalendar,
    description="Replace notifications' copy of the semesters and the monthly deadline day.",
)
CONTRACT.task(
    "notifications.expense_package_received",
    version=1,
    schema=PackageReceived,
    description="Mark a school's expense package of a month as received (no overdue notices for it).",
)


# ---- finance -> documents: statements are stored with the documents ------------------------------

STATEMENT_FORMATS = ("csv", "xlsx", "pdf")


class RegisterStatement(Payload):
    """A statement file finance wrote under `staging/` of the documents bucket; documents copies it into its
    own key layout, records a document of kind `statement` under `document_id` and removes the staged copy.
    The bytes never travel in the message."""

    document_id = fields.UUID(
        required=True, metadata={"description": "chosen by finance; the same id twice is one document"}
    )
    statement_id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    region = fields.String(load_default=None, allow_none=True)
    month = fields.Date(required=True, metadata={"description": "first day of the month"})
    format = fields.String(required=True, validate=validate.OneOf(STATEMENT_FORMATS))
    object_key = fields.String(required=True, validate=validate.Regexp(r"^staging/[A-Za-z0-9/._-]{1,300}$"))
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    media_type = fields.String(required=True, validate=validate.Length(min=3, max=100))
    filename = fields.String(required=True, validate=validate.Length(min=1, max=200))
    requested_by = fields.UUID(load_default=None, allow_none=True)


CONTRACT.task(
    "documents.register_statement",
    version=1,
    schema=RegisterStatement,
    description="Store a reimbursement statement file finance staged in the bucket as a `statement` document.",
)


# ---- finance -> finance: work too large for a request, and the daily round -----------------------


class RecheckClaims(Payload):
    """Re-run the checks of the claims a programme settings change affects, recording what changed and why."""

    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    previous_revision = fields.Integer(load_default=None, allow_none=True)
    after = fields.UUID(load_default=None, allow_none=True, metadata={"description": "continue after this claim"})


CONTRACT.task(
    "finance.recheck_claims",
    version=1,
    long=True,
    schema=RecheckClaims,
    description="Re-check the claims whose months a new programme settings revision governs.",
)
CONTRACT.task(
    "finance.run_daily",
    version=1,
    long=True,
    schema=Empty,
    description="Publish settings that came into force, release reservations of ended semesters, and build "
    "last month's statements on the statement day.",
)
CONTRACT.schedule("finance-run-daily", "finance.run_daily", 3600.0)
