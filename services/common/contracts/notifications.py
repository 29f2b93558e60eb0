"""Messages notifications sends to itself: one delivery per task, and its scheduled jobs.

A delivery task carries only the id of a delivery row: the address, the text and the attempts live
in notifications' own database, so a retry or a replay sends exactly what was decided once.
"""

from marshmallow import fields

from .base import CONTRACT, Empty, Payload


class DeliveryRef(Payload):
    delivery_id = fields.UUID(required=True)


CONTRACT.task(
    "notifications.deliver_email",
    version=1,
    schema=DeliveryRef,
    description="Send one e-mail delivery over SMTP; retried with backoff while the server is away.",
)
CONTRACT.task(
    "notifications.deliver_webhook",
    version=1,
    schema=DeliveryRef,
    description="POST one signed webhook delivery; retried with backoff while the endpoint fails.",
)
CONTRACT.task(
    "notifications.send_reminders",
    version=1,
    long=True,
    schema=Empty,
    description="Send the reminders and overdue notices due today (deadlines, evaluations, approvals).",
)
CONTRACT.task(
    "notifications.send_digests",
    version=1,
    long=True,
    schema=Empty,
    description="Send each daily digest that is due: one e-mail per person with what they chose to batch.",
)
CONTRACT.schedule("notifications-send-reminders", "notifications.send_reminders", 3600.0)
CONTRACT.schedule("notifications-send-digests", "notifications.send_digests", 900.0)
