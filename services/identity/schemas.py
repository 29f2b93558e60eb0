"""Request and response schemas of identity's API (separate create, update and read shapes)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.common.auth import REGIONS, ROLES
from services.common.pagination import PageArgs, page_schema

from .models import TENANT_KINDS


class Strict(Schema):
    class Meta:
        unknown = RAISE


# ---- auth ---------------------------------------------------------------------------------------


class LoginSchema(Strict):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)
    device = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "What the client is (e.g. 'Firefox on Windows'), shown in the list of sessions."},
    )


class RefreshSchema(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=10, max=200))


class LogoutSchema(Strict):
    refresh_token = fields.String(validate=validate.Length(min=10, max=200))


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class GrantSchema(Schema):
    id = fields.UUID(dump_only=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    tenant_id = fields.UUID(allow_none=True, load_default=None)
    school_id = fields.UUID(allow_none=True, load_default=None)
    region = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(REGIONS))
    created_at = fields.DateTime(dump_only=True)


class GrantCreateSchema(GrantSchema, Strict):
    pass


class MeSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    full_name = fields.String()
    language = fields.String()
    tenant_id = fields.UUID(allow_none=True)
    region = fields.String(allow_none=True)
    roles = fields.List(fields.Nested(GrantSchema), attribute="grants")


class MeUpdateSchema(Strict):
    full_name = fields.String(validate=validate.Length(min=2, max=200))
    language = fields.String(validate=validate.OneOf(["lv", "en"]))


class SessionSchema(Schema):
    id = fields.UUID()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    expires_at = fields.DateTime()
    device = fields.String(allow_none=True)
    current = fields.Boolean(metadata={"description": "The session this request comes with."})


class ResetRequestSchema(Strict):
    email = fields.Email(required=True)


class AcceptedSchema(Schema):
    status = fields.String(
        metadata={"description": "Always `accepted`: the answer never tells whether the e-mail has an account."}
    )


class LinkRefSchema(Strict):
    link_id = fields.UUID(required=True)
    token = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=100))


class LinkCompleteSchema(LinkRefSchema):
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class LinkSchema(Schema):
    purpose = fields.String(metadata={"description": "invitation | password_reset"})
    email = fields.String()
    full_name = fields.String()
    language = fields.String()
    expires_at = fields.DateTime()


class InvitationSchema(Schema):
    expires_at = fields.DateTime()


class PasswordChangeSchema(Strict):
    current_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


# ---- tenants and schools ------------------------------------------------------------------------

_REG_NO = validate.Regexp(r"^\d{11}$", error="An 11-digit registration number (reģistrācijas numurs).")


class SchoolSchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    kind = fields.String()
    name = fields.String()
    registration_number = fields.String()
    student_count = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SchoolCreateSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    registration_number = fields.String(required=True, validate=_REG_NO)
    student_count = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))


class SchoolUpdateSchema(Strict):
    name = fields.String(validate=validate.Length(min=2, max=200))
    student_count = fields.Integer(validate=validate.Range(min=0, max=100000))
    active = fields.Boolean()


class TenantSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    name = fields.String()
    registration_number = fields.String()
    region = fields.String()
    student_count = fields.Integer()
    active = fields.Boolean()
    schools = fields.List(fields.Nested(SchoolSchema))
    school = fields.Nested(
        SchoolSchema,
        attribute="own_school",
        allow_none=True,
        metadata={
            "description": "a vocational school's own school record, made with the tenant (its students, plans "
            "and school roles name this school_id); null for a municipality, whose schools are added under it"
        },
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class TenantCreateSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(TENANT_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    registration_number = fields.String(required=True, validate=_REG_NO)
    region = fields.String(required=True, validate=validate.OneOf(REGIONS))
    student_count = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1000000))


class TenantUpdateSchema(Strict):
    name = fields.String(validate=validate.Length(min=2, max=200))
    region = fields.String(validate=validate.OneOf(REGIONS))
    student_count = fields.Integer(validate=validate.Range(min=0, max=1000000))
    active = fields.Boolean()


class TenantListArgs(PageArgs):
    class Meta:
        unknown = RAISE

    region = fields.String(validate=validate.OneOf(REGIONS))
    kind = fields.String(validate=validate.OneOf(TENANT_KINDS))
    q = fields.String(validate=validate.Length(min=1, max=100))
    active = fields.Boolean()


TenantPage = page_schema(TenantSchema, "TenantPage")


# ---- users --------------------------------------------------------------------------------------


class UserSchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID(allow_none=True)
    email = fields.String()
    full_name = fields.String()
    language = fields.String()
    active = fields.Boolean()
    locked = fields.Method("_locked")
    last_login_at = fields.DateTime(allow_none=True)
    roles = fields.List(fields.Nested(GrantSchema), attribute="grants")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _locked(self, user: object) -> bool:
        from services.common.db import utcnow

        until = getattr(user, "locked_until", None)
        return bool(until and until > utcnow())


class UserCreateSchema(Strict):
    email = fields.Email(required=True)
    full_name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    language = fields.String(load_default="lv", validate=validate.OneOf(["lv", "en"]))
    tenant_id = fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "Omit for IKVD staff (platform-level users)."}
    )
    password = fields.String(
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={"description": "Initial password; the user changes it. Omit it when `invite` is true."},
    )
    invite = fields.Boolean(
        load_default=False,
        metadata={
            "description": "E-mail the user a one-time link to set their own password (IDENTITY_INVITATION_TTL)."
        },
    )
    roles = fields.List(fields.Nested(GrantCreateSchema), load_default=list)


class UserUpdateSchema(Strict):
    full_name = fields.String(validate=validate.Length(min=2, max=200))
    language = fields.String(validate=validate.OneOf(["lv", "en"]))
    active = fields.Boolean()
    password = fields.String(
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={"description": "Set a new password (ends the user's sessions)."},
    )


class UserListArgs(PageArgs):
    class Meta:
        unknown = RAISE

    tenant_id = fields.UUID()
    school_id = fields.UUID()
    role = fields.String(validate=validate.OneOf(ROLES))
    q = fields.String(validate=validate.Length(min=1, max=100))
    active = fields.Boolean()


UserPage = page_schema(UserSchema, "UserPage")


class StaffListArgs(PageArgs):
    class Meta:
        unknown = RAISE

    school_id = fields.UUID(metadata={"description": "needed only when you work in several schools (or none)"})
    role = fields.String(validate=validate.OneOf(ROLES), metadata={"description": "e.g. support_provider"})
    q = fields.String(validate=validate.Length(min=1, max=100), metadata={"description": "part of a name"})


class StaffMemberSchema(Schema):
    """A person of the school as a picker shows them: no e-mail, no other contact data."""

    user_id = fields.UUID(metadata={"description": "the provider_id of an agreement or a consultation"})
    full_name = fields.String()
    school_id = fields.UUID()
    roles = fields.List(fields.String(), metadata={"description": "the roles held in this school"})


StaffPage = page_schema(StaffMemberSchema, "StaffPage")


class SessionsEndedSchema(Schema):
    ended = fields.Integer()


class KeySchema(Schema):
    kid = fields.String()
    created_at = fields.DateTime()
    retired_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
