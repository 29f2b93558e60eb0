"""Messages identity sends: tenant and user state for other services' read models, and housekeeping."""

from marshmallow import fields, validate

from ..auth import REGIONS, ROLES
from .base import CONTRACT, Empty, Payload


class GrantPayload(Payload):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    tenant_id = fields.UUID(load_default=None, allow_none=True)
    school_id = fields.UUID(load_default=None, allow_none=True)
    region = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REGIONS))


class UserChanged(Payload):
    """A user's current state; a read model replaces what it holds when `revision` is newer."""

    user_id = fields.UUID(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    tenant_id = fields.UUID(load_default=None, allow_none=True)
    email = fields.Email(required=True)
    full_name = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(["lv", "en"]))
    active = fields.Boolean(required=True)
    roles = fields.List(fields.Nested(GrantPayload), required=True)


class SchoolPayload(Payload):
    school_id = fields.UUID(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["general", "vocational"]))
    student_count = fields.Integer(required=True, validate=validate.Range(min=0))
    active = fields.Boolean(required=True)


class TenantChanged(Payload):
    """A tenant's current state with its schools; replaces the read model when `revision` is newer."""

    tenant_id = fields.UUID(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(["municipality", "vocational_school"]))
    name = fields.String(required=True)
    # the institution's registration number (statements carry it); absent in messages sent before it was added
    registration_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    region = fields.String(required=True, validate=validate.OneOf(REGIONS))
    student_count = fields.Integer(required=True, validate=validate.Range(min=0))
    active = fields.Boolean(required=True)
    schools = fields.List(fields.Nested(SchoolPayload), required=True)


for _svc in ("plans", "finance", "notifications"):
    CONTRACT.task(
        f"{_svc}.sync_tenant",
        version=1,
        schema=TenantChanged,
        description="Replace the read model of a tenant and its schools.",
    )
for _svc in ("plans", "notifications"):
    CONTRACT.task(
        f"{_svc}.sync_user",
        version=1,
        schema=UserChanged,
        description="Replace the read model of a user and their roles.",
    )
CONTRACT.event("identity.tenant_changed", ("plans.sync_tenant", "finance.sync_tenant", "notifications.sync_tenant"))
CONTRACT.event("identity.user_changed", ("plans.sync_user", "notifications.sync_user"))

CONTRACT.task(
    "identity.purge_expired_sessions",
    version=1,
    schema=Empty,
    description="Delete refresh sessions and signing keys whose lifetime has ended.",
)
CONTRACT.schedule("identity-purge-expired-sessions", "identity.purge_expired_sessions", 3600.0)


class AccountLinkMail(Payload):
    """Mail a one-time account link: its id and facts only. The secret is derived from the id under the
    shared ACCOUNT_LINK_SECRET (services/common/account_links.py), so no usable token travels here."""

    link_id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(["invitation", "password_reset"]))
    email = fields.Email(required=True)
    full_name = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(["lv", "en"]))
    expires_at = fields.DateTime(required=True)


CONTRACT.task(
    "notifications.account_link",
    version=1,
    schema=AccountLinkMail,
    description="E-mail a person their invitation or password-reset link (never muted by preferences).",
)
