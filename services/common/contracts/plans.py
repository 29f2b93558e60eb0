"""Messages plans sends: plan snapshots and delivered hours to finance; approvals, returns, director's
orders and written semester evaluations to notifications. Students travel only as ids and a keyed hash, never a code."""

from marshmallow import fields, validate

from .base import CONTRACT, Payload

PLAN_STATUSES = ("draft", "in_approval", "approved", "in_progress", "suspended", "under_review", "inactive")
APPROVAL_LEVELS = ("director", "municipality", "ikvd")
# DOMAIN.md: who gives consultations; the rates in finance's programme settings are keyed by these
PROVIDER_TYPES = (
    "teacher",
    "psychologist",
    "social_pedagogue",
    "teachers_assistant",
    "special_education_teacher",
    "sign_language_interpreter",
    "assistant",
    "occupational_therapist",
    "speech_therapist",
)


class MeasureSnapshot(Payload):
    measure_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["consultation", "compensation"]))
    provider_type = fields.String(load_default=None, allow_none=True)
    planned_hours = fields.Decimal(load_default=None, allow_none=True, as_string=True, places=2)
    category = fields.String(load_default=None, allow_none=True)
    planned_amount = fields.Decimal(load_default=None, allow_none=True, as_string=True, places=2)


class PlanSnapshot(Payload):
    """A plan as it matters to money; finance replaces its copy when `revision` is newer."""

    plan_id = fields.UUID(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    code = fields.String(required=True)
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(required=True)
    student_id = fields.UUID(required=True)
    # HMAC-SHA256 of the normalised personal code under the platform secret: the same person in any
    # tenant has the same value, and no tenant can read the code from it
    student_key = fields.String(required=True, validate=validate.Length(equal=64))
    semester = fields.String(required=True)
    semester_start = fields.Date(required=True)
    semester_end = fields.Date(required=True)
    status = fields.String(required=True, validate=validate.OneOf(PLAN_STATUSES))
    prepared_on = fields.Date(required=True)
    preparation_hours = fields.Decimal(required=True, as_string=True, places=2)
    planned_financing = fields.Decimal(required=True, allow_none=True, as_string=True, places=2)
    measures = fields.List(fields.Nested(MeasureSnapshot), required=True)


class ConsultationDelivered(Payload):
    consultation_id = fields.UUID(required=True)
    plan_id = fields.UUID(required=True)
    measure_id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(required=True)
    provider_type = fields.String(required=True)
    held_on = fields.Date(required=True)
    hours = fields.Decimal(required=True, as_string=True, places=2)
    mode = fields.String(required=True, validate=validate.OneOf(["in_person", "remote"]))


class PlanAwaitingApproval(Payload):
    plan_id = fields.UUID(required=True)
    code = fields.String(required=True)
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(required=True)
    level = fields.String(required=True, validate=validate.OneOf(APPROVAL_LEVELS))
    since = fields.AwareDateTime(required=True)


class PlanDecided(Payload):
    """A plan sent back (with the comment) or approved; the preparer is told."""

    plan_id = fields.UUID(required=True)
    code = fields.String(required=True)
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(required=True)
    preparer_id = fields.UUID(required=True)
    level = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(APPROVAL_LEVELS))
    comment = fields.String(load_default=None, allow_none=True)
    decided_by = fields.UUID(required=True)
    # when the transition happened, so a receiver can order it against the plan's other messages;
    # optional only for messages queued before it was added (the receiver then uses the arrival time)
    decided_at = fields.AwareDateTime(load_default=None, allow_none=True)
    # the plan's semester code (finance's calendar), for the evaluation due at its end
    semester = fields.String(load_default=None, allow_none=True)


class EvaluationWritten(Payload):
    """A plan's semester evaluation was written (or rewritten): no more reminders for it."""

    plan_id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(required=True)
    semester = fields.String(required=True)
    written_at = fields.AwareDateTime(required=True)


class OrderRegistered(Payload):
    """A director's order for remote work: the programme requires the region's coordinator to know."""

    order_id = fields.UUID(required=True)
    tenant_id = fields.UUID(required=True)
    school_id = fields.UUID(required=True)
    region = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["remote_consultations", "practice_placement"]))
    number = fields.String(required=True)
    issued_on = fields.Date(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    student_count = fields.Integer(required=True)
    provider_count = fields.Integer(required=True)


CONTRACT.task(
    "finance.sync_plan",
    version=1,
    schema=PlanSnapshot,
    description="Replace finance's copy of a plan (status, semester, measures, financing).",
)
CONTRACT.task(
    "finance.consultation_delivered",
    version=1,
    schema=ConsultationDelivered,
    description="Hours delivered on a consultation measure, owed to the school at the day's rate.",
)
CONTRACT.task(
    "notifications.plan_awaiting_approval",
    version=1,
    schema=PlanAwaitingApproval,
    description="Tell the approvers of a level that a plan waits for them.",
)
CONTRACT.task(
    "notifications.plan_returned",
    version=1,
    schema=PlanDecided,
    description="Tell the preparer that a plan was sent back, with the comment.",
)
CONTRACT.task(
    "notifications.plan_approved",
    version=1,
    schema=PlanDecided,
    description="Tell the preparer that a plan was approved at the last level.",
)
CONTRACT.task(
    "notifications.evaluation_written",
    version=1,
    schema=EvaluationWritten,
    description="Record that a plan's semester evaluation is written: its reminders and overdue notices stop.",
)
CONTRACT.task(
    "notifications.order_registered",
    version=1,
    schema=OrderRegistered,
    description="Tell the region's coordinator about a director's order for remote work.",
)
