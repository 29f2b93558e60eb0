"""Identity's HTTP API: login and tokens, the JWKS, tenants, schools, users and their roles."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.audit import audited, not_audited
from services.common.auth import PLATFORM_ADMIN, current_principal, public, require_roles
from services.common.errors import ApiError
from services.common.pagination import paginate
from services.common.revocation import RevocationList
from services.common.runtime import ServiceRuntime

from . import accounts, admin, directory, keys, sessions
from .models import User
from .ratelimit import RateLimiter
from .schemas import (
    AcceptedSchema,
    GrantCreateSchema,
    GrantSchema,
    InvitationSchema,
    KeySchema,
    LinkCompleteSchema,
    LinkRefSchema,
    LinkSchema,
    LoginSchema,
    LogoutSchema,
    MeSchema,
    MeUpdateSchema,
    PasswordChangeSchema,
    RefreshSchema,
    ResetRequestSchema,
    SchoolCreateSchema,
    SchoolSchema,
    SchoolUpdateSchema,
    SessionSchema,
    SessionsEndedSchema,
    StaffListArgs,
    StaffPage,
    TenantCreateSchema,
    TenantListArgs,
    TenantPage,
    TenantSchema,
    TenantUpdateSchema,
    TokenSchema,
    UserCreateSchema,
    UserListArgs,
    UserPage,
    UserSchema,
    UserUpdateSchema,
)
from .settings import IdentitySettings

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]

auth_blp = Blueprint("auth", __name__, url_prefix="/auth", description="Login, tokens and sessions.")
keys_blp = Blueprint("keys", __name__, description="Token signing keys (JWKS).")
tenants_blp = Blueprint("tenants", __name__, description="Municipalities, vocational schools and their schools.")
users_blp = Blueprint("users", __name__, url_prefix="/users", description="Users and their role grants.")
staff_blp = Blueprint(
    "staff",
    __name__,
    url_prefix="/staff",
    description="A school's staff for pickers (names and roles only). / Skolas darbinieki izvēlei.",
)


def rt() -> ServiceRuntime:
    return current_app.extensions["runtime"]


def settings() -> IdentitySettings:
    return current_app.extensions["settings"]


def revocations() -> RevocationList:
    return current_app.extensions["revocations"]


def limiter() -> RateLimiter:
    return current_app.extensions["ratelimiter"]


def _tokens(pair: sessions.TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    }


# ---- auth ---------------------------------------------------------------------------------------


@auth_blp.route("/login")
class Login(MethodView):
    @public
    @audited("user.logged_in")
    @auth_blp.arguments(LoginSchema)
    @auth_blp.response(200, TokenSchema)
    @auth_blp.alt_response(401, description="Wrong e-mail or password")
    @auth_blp.alt_response(423, description="Locked after too many failed logins")
    @auth_blp.alt_response(429, description="Too many failed logins from this address or for this e-mail")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Log in with e-mail and password; get an access token and a refresh token."""
        # counted before the password is hashed; the client address is the proxy's X-Forwarded-For
        # hop when BEHIND_PROXY is on (ProxyFix), else the connection's
        attempt = limiter().login(request.remote_addr, data["email"])
        with rt().db.transaction() as session:
            result = sessions.login(
                session, settings(), data["email"], data["password"], limiter(), device=data.get("device")
            )
        if isinstance(result, ApiError):
            raise result
        attempt.succeeded()
        return _tokens(result)


@auth_blp.route("/refresh")
class Refresh(MethodView):
    @public
    @not_audited("Token rotation inside a session: the login, its end, revocations and reuse are audited.")
    @auth_blp.arguments(RefreshSchema)
    @auth_blp.response(200, TokenSchema)
    @auth_blp.alt_response(401, description="The refresh token is not valid")
    @auth_blp.alt_response(429, description="Too many invalid refresh tokens from this address")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Trade a refresh token for new tokens; each refresh token works once."""
        attempt = limiter().refresh(request.remote_addr)
        ended: list[str] = []
        with rt().db.transaction() as session:
            result = sessions.refresh(session, settings(), data["refresh_token"], ended)
        if ended:
            revocations().revoke(ended, settings().access_token_ttl)
        if isinstance(result, ApiError):
            raise result
        attempt.succeeded()
        return _tokens(result)


@auth_blp.route("/logout")
class Logout(MethodView):
    @audited("session.ended")
    @auth_blp.arguments(LogoutSchema)
    @auth_blp.response(204)
    @auth_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> None:
        """End the current session: its refresh token and its access tokens stop working."""
        principal = current_principal()
        with rt().db.transaction() as session:
            sessions.logout(session, principal)
        if principal.session_id:
            revocations().revoke([principal.session_id], settings().access_token_ttl)


@auth_blp.route("/me")
class Me(MethodView):
    @auth_blp.response(200, MeSchema)
    @auth_blp.doc(security=BEARER)
    def get(self) -> Any:
        """Who am I: profile and role grants."""
        principal = current_principal()
        with rt().db.transaction() as session:
            user = session.get(User, uuid.UUID(principal.user_id))
            if user is None or not user.active:
                raise ApiError(401, "invalid_token", "The user no longer exists or is inactive.")
            return {
                **{c: getattr(user, c) for c in ("id", "email", "full_name", "language", "tenant_id")},
                "region": principal.region,
                "grants": list(user.grants),
            }

    @audited("user.updated")
    @auth_blp.arguments(MeUpdateSchema)
    @auth_blp.response(200, MeSchema)
    @auth_blp.doc(security=BEARER)
    def patch(self, data: dict[str, Any]) -> Any:
        """Change your own name or language (the language of your e-mails and of the portal)."""
        principal = current_principal()
        with rt().db.transaction() as session:
            user = accounts.update_me(session, rt().outbox, principal, data)
            return {
                **{c: getattr(user, c) for c in ("id", "email", "full_name", "language", "tenant_id")},
                "region": principal.region,
                "grants": list(user.grants),
            }


@auth_blp.route("/sessions")
class MySessions(MethodView):
    @auth_blp.response(200, SessionSchema(many=True))
    @auth_blp.doc(security=BEARER)
    def get(self) -> Any:
        """Your open sessions (where you are logged in), newest first; `current` is this one."""
        with rt().db.transaction() as session:
            return accounts.my_sessions(session, current_principal())


@auth_blp.route("/sessions/<uuid:session_id>")
class MySession(MethodView):
    @audited("session.ended")
    @auth_blp.response(204)
    @auth_blp.doc(security=BEARER)
    def delete(self, session_id: uuid.UUID) -> None:
        """End one of your sessions (a device you no longer use); its tokens stop working at once."""
        with rt().db.transaction() as session:
            ended = accounts.end_my_session(session, current_principal(), session_id)
        revocations().revoke([ended], settings().access_token_ttl)


@auth_blp.route("/sessions/end-others")
class MyOtherSessions(MethodView):
    @audited("user.sessions_revoked")
    @auth_blp.response(200, SessionsEndedSchema)
    @auth_blp.doc(security=BEARER)
    def post(self) -> Any:
        """End every session of yours but this one."""
        with rt().db.transaction() as session:
            ended = accounts.end_other_sessions(session, current_principal())
        revocations().revoke(ended, settings().access_token_ttl)
        return {"ended": len(ended)}


@auth_blp.route("/password-reset")
class PasswordReset(MethodView):
    @public
    @audited("user.password_reset_requested")
    @auth_blp.arguments(ResetRequestSchema)
    @auth_blp.response(202, AcceptedSchema)
    @auth_blp.alt_response(429, description="Too many requests from this address or for this e-mail")
    def post(self, data: dict[str, Any]) -> Any:
        """Ask for a password-reset link by e-mail; the answer is the same whether or not the e-mail has an account."""
        limiter().reset(request.remote_addr, data["email"])  # every request counts, found or not
        with rt().db.transaction() as session:
            accounts.request_reset(session, rt().outbox, settings(), data["email"])
        return {"status": "accepted"}


@auth_blp.route("/links/inspect")
class LinkInspect(MethodView):
    @public
    @not_audited("A read: what a one-time link is for, so its page can greet the person; nothing changes.")
    @auth_blp.arguments(LinkRefSchema)
    @auth_blp.response(200, LinkSchema)
    @auth_blp.alt_response(404, description="`link_invalid`: no such link, or the secret does not match")
    @auth_blp.alt_response(409, description="`link_used`: used already, or replaced by a newer link")
    @auth_blp.alt_response(410, description="`link_expired`")
    def post(self, data: dict[str, Any]) -> Any:
        """Say what an invitation or reset link is for (the secret travels in the body, never in a URL)."""
        attempt = limiter().link(request.remote_addr)
        with rt().db.transaction() as session:
            found = accounts.inspect_link(session, settings(), data["link_id"], data["token"])
        attempt.succeeded()
        return found


@auth_blp.route("/links/complete")
class LinkComplete(MethodView):
    @public
    @audited("user.password_reset", "user.invitation_accepted")
    @auth_blp.arguments(LinkCompleteSchema)
    @auth_blp.response(204)
    @auth_blp.alt_response(404, description="`link_invalid`")
    @auth_blp.alt_response(409, description="`link_used`")
    @auth_blp.alt_response(410, description="`link_expired`")
    def post(self, data: dict[str, Any]) -> None:
        """Set your password with an invitation or reset link; the link is spent and every session of yours ends."""
        attempt = limiter().link(request.remote_addr)
        with rt().db.transaction() as session:
            ended = accounts.complete_link(session, settings(), data["link_id"], data["token"], data["new_password"])
        attempt.succeeded()
        revocations().revoke(ended, settings().access_token_ttl)


@auth_blp.route("/password")
class Password(MethodView):
    @audited("user.password_changed")
    @auth_blp.arguments(PasswordChangeSchema)
    @auth_blp.response(204)
    @auth_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> None:
        """Change your own password; your other sessions end."""
        with rt().db.transaction() as session:
            ended = admin.change_own_password(
                session, settings(), current_principal(), data["current_password"], data["new_password"]
            )
        revocations().revoke(ended, settings().access_token_ttl)


# ---- keys ---------------------------------------------------------------------------------------


@keys_blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @public
    @keys_blp.response(200)
    def get(self) -> Any:
        """The public keys that verify access tokens (current and recently retired)."""
        with rt().db.transaction() as session:
            body = keys.jwks(session)
        resp = jsonify(body)
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp


@keys_blp.route("/keys")
class Keys(MethodView):
    @require_roles(PLATFORM_ADMIN)
    @keys_blp.response(200, KeySchema(many=True))
    @keys_blp.doc(security=BEARER)
    def get(self) -> Any:
        """List signing keys that still verify tokens."""
        with rt().db.transaction() as session:
            return keys.verifying_keys(session)


@keys_blp.route("/keys/rotate")
class Rotate(MethodView):
    @require_roles(PLATFORM_ADMIN)
    @audited("key.rotated")
    @keys_blp.response(201, KeySchema)
    @keys_blp.doc(security=BEARER)
    def post(self) -> Any:
        """Sign with a new key from now on; tokens signed by the old one stay valid until they expire."""
        with rt().db.transaction() as session:
            return keys.rotate(session, settings().access_token_ttl, settings().key_retire_grace, current_principal())


# ---- tenants and schools ------------------------------------------------------------------------


@tenants_blp.route("/tenants")
class Tenants(MethodView):
    @tenants_blp.arguments(TenantListArgs, location="query")
    @tenants_blp.response(200, TenantPage)
    @tenants_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List the tenants you can see (filter by region, kind, name)."""
        principal = current_principal()
        with rt().db.transaction() as session:
            page = paginate(session, admin.tenants_query(principal, args), args["page"], args["page_size"])
            return page

    @require_roles(PLATFORM_ADMIN)
    @audited("tenant.created")
    @tenants_blp.arguments(TenantCreateSchema)
    @tenants_blp.response(201, TenantSchema)
    @tenants_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a municipality or a state vocational school (platform admin); a vocational school is its own
        school too, and the answer carries that school record (`school`)."""
        with rt().db.transaction() as session:
            tenant = admin.create_tenant(session, rt().outbox, current_principal(), data)
            return tenant


@tenants_blp.route("/tenants/<uuid:tenant_id>")
class TenantById(MethodView):
    @tenants_blp.response(200, TenantSchema)
    @tenants_blp.doc(security=BEARER)
    def get(self, tenant_id: uuid.UUID) -> Any:
        """Read a tenant with its schools."""
        with rt().db.transaction() as session:
            return admin.visible_tenant(session, current_principal(), tenant_id)

    @audited("tenant.updated")
    @tenants_blp.arguments(TenantUpdateSchema)
    @tenants_blp.response(200, TenantSchema)
    @tenants_blp.doc(security=BEARER)
    def patch(self, data: dict[str, Any], tenant_id: uuid.UUID) -> Any:
        """Change a tenant's name, region, number of students or activity (platform admin)."""
        ended: list[str] = []
        with rt().db.transaction() as session:
            tenant = admin.update_tenant(session, rt().outbox, current_principal(), tenant_id, data, ended)
        revocations().revoke(ended, settings().access_token_ttl)
        return tenant


@tenants_blp.route("/tenants/<uuid:tenant_id>/schools")
class TenantSchools(MethodView):
    @tenants_blp.response(200, SchoolSchema(many=True))
    @tenants_blp.doc(security=BEARER)
    def get(self, tenant_id: uuid.UUID) -> Any:
        """List the schools of a tenant."""
        with rt().db.transaction() as session:
            return admin.visible_tenant(session, current_principal(), tenant_id).schools

    @audited("school.created")
    @tenants_blp.arguments(SchoolCreateSchema)
    @tenants_blp.response(201, SchoolSchema)
    @tenants_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], tenant_id: uuid.UUID) -> Any:
        """Add a municipal school under a municipality."""
        with rt().db.transaction() as session:
            school = admin.create_school(session, rt().outbox, current_principal(), tenant_id, data)
            return school


@tenants_blp.route("/schools/<uuid:school_id>")
class SchoolById(MethodView):
    @audited("school.updated")
    @tenants_blp.arguments(SchoolUpdateSchema)
    @tenants_blp.response(200, SchoolSchema)
    @tenants_blp.doc(security=BEARER)
    def patch(self, data: dict[str, Any], school_id: uuid.UUID) -> Any:
        """Change a school's name, number of students or activity."""
        with rt().db.transaction() as session:
            school = admin.update_school(session, rt().outbox, current_principal(), school_id, data)
            return school


# ---- users --------------------------------------------------------------------------------------


@users_blp.route("")
class Users(MethodView):
    @users_blp.arguments(UserListArgs, location="query")
    @users_blp.response(200, UserPage)
    @users_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List the users you administer or read (filter by tenant, school, role, name)."""
        with rt().db.transaction() as session:
            query = admin.users_query(current_principal(), args)
            return paginate(session, query, args["page"], args["page_size"])

    @audited("user.created")
    @users_blp.arguments(UserCreateSchema)
    @users_blp.response(201, UserSchema)
    @users_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a user with an initial password and role grants, within your scope."""
        with rt().db.transaction() as session:
            user = admin.create_user(session, rt().outbox, settings(), current_principal(), data)
            return user


@users_blp.route("/<uuid:user_id>")
class UserById(MethodView):
    @users_blp.response(200, UserSchema)
    @users_blp.doc(security=BEARER)
    def get(self, user_id: uuid.UUID) -> Any:
        """Read a user and their role grants."""
        with rt().db.transaction() as session:
            return admin.visible_user(session, current_principal(), user_id)

    @audited("user.updated")
    @users_blp.arguments(UserUpdateSchema)
    @users_blp.response(200, UserSchema)
    @users_blp.doc(security=BEARER)
    def patch(self, data: dict[str, Any], user_id: uuid.UUID) -> Any:
        """Change a user's name, language, password or activity; deactivation ends their sessions."""
        with rt().db.transaction() as session:
            user, ended = admin.update_user(session, rt().outbox, settings(), current_principal(), user_id, data)
        revocations().revoke(ended, settings().access_token_ttl)
        return user


@users_blp.route("/<uuid:user_id>/roles")
class UserRoles(MethodView):
    @audited("role.granted")
    @users_blp.arguments(GrantCreateSchema)
    @users_blp.response(201, GrantSchema)
    @users_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], user_id: uuid.UUID) -> Any:
        """Grant a role in a scope (region, tenant or school), within what your role may grant."""
        with rt().db.transaction() as session:
            return admin.grant_role(session, rt().outbox, current_principal(), user_id, data)


@users_blp.route("/<uuid:user_id>/roles/<uuid:grant_id>")
class UserRole(MethodView):
    @audited("role.revoked")
    @users_blp.response(204)
    @users_blp.doc(security=BEARER)
    def delete(self, user_id: uuid.UUID, grant_id: uuid.UUID) -> None:
        """Take a role grant away."""
        with rt().db.transaction() as session:
            admin.revoke_role(session, rt().outbox, current_principal(), user_id, grant_id)


@users_blp.route("/<uuid:user_id>/invite")
class UserInvite(MethodView):
    @audited("user.invited")
    @users_blp.response(201, InvitationSchema)
    @users_blp.doc(security=BEARER)
    def post(self, user_id: uuid.UUID) -> Any:
        """E-mail the user a (new) invitation to set their password; an earlier unused one stops working."""
        with rt().db.transaction() as session:
            return admin.invite_user(session, rt().outbox, settings(), current_principal(), user_id)


@users_blp.route("/<uuid:user_id>/unlock")
class UserUnlock(MethodView):
    @audited("user.unlocked")
    @users_blp.response(200, UserSchema)
    @users_blp.doc(security=BEARER)
    def post(self, user_id: uuid.UUID) -> Any:
        """Lift a lockout after failed logins."""
        with rt().db.transaction() as session:
            return admin.unlock_user(session, current_principal(), user_id)


@users_blp.route("/<uuid:user_id>/sessions/revoke")
class UserSessionsRevoke(MethodView):
    @audited("user.sessions_revoked")
    @users_blp.response(200, SessionsEndedSchema)
    @users_blp.doc(security=BEARER)
    def post(self, user_id: uuid.UUID) -> Any:
        """End every session of a user at once (a lost device, a leaving employee)."""
        with rt().db.transaction() as session:
            ended = admin.end_sessions(session, current_principal(), user_id)
        revocations().revoke(ended, settings().access_token_ttl)
        return {"ended": len(ended)}


# ---- the staff directory ----------------------------------------------------------------------


@staff_blp.route("")
class Staff(MethodView):
    @staff_blp.arguments(StaffListArgs, location="query")
    @staff_blp.response(200, StaffPage)
    @staff_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List your school's staff with their roles there (filter by role, name): who a plan's provider can be."""
        principal = current_principal()
        with rt().db.transaction() as session:
            school = directory.staff_school(session, principal, args.get("school_id"))
            page = paginate(session, directory.staff_query(school, args), args["page"], args["page_size"])
            page["items"] = [directory.staff_entry(user, school) for user in page["items"]]
            return page


BLUEPRINTS = (auth_blp, keys_blp, tenants_blp, users_blp, staff_blp)
