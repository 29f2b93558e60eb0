"""Messages documents sends: expense documents and attestations to finance's checks, signed applications to
plans, and its own sweep.

A payload names the document and version, the facts finance checks (student, plan, category, month,
amount) and the file's SHA-256 so finance can find the same bytes in other tenants. Never the bytes,
the file name or a personal code.
"""

from marshmallow import fields, validate

from .base import CONTRACT, Empty, Payload

# document kinds (documents owns the list; the wire values are the contract)
EXPENSE_KINDS = ("expense_receipt", "transport_ticket", "invoice", "timesheet")
DOCUMENT_KINDS = (
    "application",
    "attestation",
    *EXPENSE_KINDS,
    "agreement",
    "directors_order",
    "ka_form",
    "statement",
)
# DOMAIN.md: compensations (against an economic risk), consultations, and plan preparation hours
COMPENSATION_CATEGORIES = (
    "public_transport",
    "learning_materials",
    "accommodation",
    "meals",
    "personal_items",
    "special_transport",
)
EXPENSE_CATEGORIES = (*COMPENSATION_CATEGORIES, "consultations", "plan_preparation")
# DOMAIN.md: a parent's or guardian's application for a minor, the student's own for an adult
APPLICATION_SIGNERS = ("parent", "guardian", "student")

_SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="A lowercase hex SHA-256.")


class _DocumentFacts(Payload):
    document_id = fields.UUID(required=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(load_default=None, allow_none=True)
    student_id = fields.UUID(required=True)
    sha256 = fields.String(required=True, validate=_SHA256)
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    media_type = fields.String(required=True, validate=validate.Length(min=3, max=100))
    # the same bytes are already stored in this tenant (finance decides across tenants)
    duplicate_in_tenant = fields.Boolean(required=True)
    duplicate_of = fields.List(fields.UUID(), required=True, metadata={"description": "earlier documents"})
    uploaded_by = fields.UUID(required=True)
    uploaded_at = fields.AwareDateTime(required=True)


class ClaimLine(Payload):
    """One claim of a document that holds several (an invoice over months or categories)."""

    category = fields.String(required=True, validate=validate.OneOf(EXPENSE_CATEGORIES))
    month = fields.Date(required=True)
    amount = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))


class CheckExpenseDocument(_DocumentFacts):
    """One expense document (a version of it) to check against the plan, caps, ledger and budget."""

    kind = fields.String(required=True, validate=validate.OneOf(EXPENSE_KINDS))
    plan_id = fields.UUID(required=True)
    category = fields.String(required=True, validate=validate.OneOf(EXPENSE_CATEGORIES))
    month = fields.Date(required=True, metadata={"description": "first day of the month claimed"})
    amount = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))
    # optional: when given, finance makes one claim per line instead of one from the fields above
    lines = fields.List(fields.Nested(ClaimLine), load_default=None, allow_none=True)


class RegisterAttestation(_DocumentFacts):
    """A municipality's attestation that it does not fund these costs of the student for a period."""

    plan_id = fields.UUID(load_default=None, allow_none=True)
    # the issuing municipality or its social service, when the uploader names it
    issuer = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    issued_on = fields.Date(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    categories = fields.List(fields.String(validate=validate.OneOf(COMPENSATION_CATEGORIES)), required=True)


class RegisterApplication(_DocumentFacts):
    """A signed application stored for a plan: plans puts it on file when it fits the plan's student, and
    answers with documents.set_review_status (`accepted`, or `needs_fix` with the reason)."""

    plan_id = fields.UUID(required=True)
    signer = fields.String(required=True, validate=validate.OneOf(APPLICATION_SIGNERS))
    signed_on = fields.Date(required=True)


CONTRACT.task(
    "plans.register_application",
    version=1,
    schema=RegisterApplication,
    description="Put a stored, signed application on file for its plan and answer with documents.set_review_status.",
)
CONTRACT.task(
    "finance.check_expense_document",
    version=1,
    schema=CheckExpenseDocument,
    description="Check an uploaded expense document and answer with documents.set_review_status.",
)
CONTRACT.task(
    "finance.register_attestation",
    version=1,
    schema=RegisterAttestation,
    description="Record an attestation's coverage and answer with documents.set_review_status.",
)
CONTRACT.task(
    "documents.sweep_uploads",
    version=1,
    schema=Empty,
    description="Remove what uploads cut short left behind (intent and bytes) and expired Idempotency-Keys.",
)
CONTRACT.schedule("documents-sweep-uploads", "documents.sweep_uploads", 300.0)
