"""Messages every service sends: dead letters reported to the platform admins."""

from marshmallow import fields, validate

from .base import CONTRACT, Payload


class DeadLettered(Payload):
    service = fields.String(required=True, validate=validate.Length(min=1, max=40))
    dead_letter_id = fields.UUID(required=True)
    task_name = fields.String(required=True)
    error_type = fields.String(required=True)


CONTRACT.task(
    "notifications.message_dead_lettered",
    version=1,
    schema=DeadLettered,
    description="Tell platform admins that a message failed past its retries.",
)
