"""Messages any service sends to put an event on a student's timeline in plans."""

from marshmallow import fields, validate

from .base import CONTRACT, Payload


class StudentEvent(Payload):
    """Something about a student another service wants on the timeline (a document, a check result)."""

    tenant_id = fields.UUID(required=True)
    student_id = fields.UUID(required=True)
    plan_id = fields.UUID(load_default=None, allow_none=True)
    at = fields.AwareDateTime(required=True)
    source = fields.String(required=True, validate=validate.OneOf(["documents", "finance"]))
    key = fields.String(required=True, validate=validate.Length(min=1, max=120))  # idempotency within source
    kind = fields.String(required=True, validate=validate.Length(min=1, max=60))
    summary_lv = fields.String(required=True, validate=validate.Length(max=500))
    summary_en = fields.String(required=True, validate=validate.Length(max=500))
    details = fields.Dict(load_default=dict)


CONTRACT.task(
    "plans.record_student_event",
    version=1,
    schema=StudentEvent,
    description="Add an event reported by another service to a student's timeline.",
)
