"""Request and response schemas of the notifications API (separate create, update and read shapes)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.common.pagination import PageArgs, page_schema

from .catalogue import KINDS, WEBHOOK_KINDS
from .models import DELIVERY_STATUSES

KIND_FIELD = {"description": "the kind of notification: " + ", ".join(KINDS)}


class InboxArgs(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "only items not yet read"})
    kind = fields.String(validate=validate.OneOf(list(KINDS)))


class InboxItemSchema(Schema):
    id = fields.UUID()
    kind = fields.String(metadata=KIND_FIELD)
    title_lv = fields.String()
    title_en = fields.String()
    body_lv = fields.String()
    body_en = fields.String()
    ref_type = fields.String(allow_none=True, metadata={"description": "plan, document, order, statement, ..."})
    ref_id = fields.String(allow_none=True, metadata={"description": "the id of what it is about"})
    link = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


InboxPage = page_schema(InboxItemSchema, "InboxPage")


class UnreadCountSchema(Schema):
    unread = fields.Integer(required=True)


class MarkedSchema(Schema):
    marked = fields.Integer(required=True)


class PreferenceSchema(Schema):
    kind = fields.String(metadata=KIND_FIELD)
    label_lv = fields.String()
    label_en = fields.String()
    email = fields.Boolean()
    inbox = fields.Boolean()
    mode = fields.String(metadata={"description": "immediate or digest (one e-mail a day)"})


class PreferenceListSchema(Schema):
    items = fields.List(fields.Nested(PreferenceSchema), required=True)


class PreferenceUpdateSchema(Schema):
    email = fields.Boolean(required=True)
    inbox = fields.Boolean(required=True)
    mode = fields.String(load_default="immediate", validate=validate.OneOf(["immediate", "digest"]))


class WebhookCreateSchema(Schema):
    tenant_id = fields.UUID(load_default=None, metadata={"description": "default: your own tenant"})
    url = fields.String(required=True, validate=validate.Length(min=8, max=2000))
    kinds = fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_KINDS)),
        load_default=list,
        metadata={"description": "kinds to receive; empty for all: " + ", ".join(WEBHOOK_KINDS)},
    )
    description = fields.String(load_default="", validate=validate.Length(max=200))


class WebhookUpdateSchema(Schema):
    url = fields.String(validate=validate.Length(min=8, max=2000))
    kinds = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_KINDS)))
    description = fields.String(validate=validate.Length(max=200))
    active = fields.Boolean()


class WebhookSchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    url = fields.String()
    kinds = fields.List(fields.String())
    description = fields.String()
    active = fields.Boolean()
    created_by = fields.UUID()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookSecretSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "the HMAC-SHA256 key; shown only now"})


class WebhookArgs(PageArgs):
    tenant_id = fields.UUID()


WebhookPage = page_schema(WebhookSchema, "WebhookPage")


class DeliveryArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    channel = fields.String(validate=validate.OneOf(["email", "webhook"]))


class DeliverySchema(Schema):
    id = fields.UUID()
    notification_id = fields.UUID()
    kind = fields.String()
    channel = fields.String()
    user_id = fields.UUID(allow_none=True)
    webhook_id = fields.UUID(allow_none=True)
    address = fields.String()
    status = fields.String(metadata={"description": ", ".join(DELIVERY_STATUSES)})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    response_status = fields.Integer(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)
    dead_letter_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()


DeliveryPage = page_schema(DeliverySchema, "DeliveryPage")
