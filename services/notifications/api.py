"""Notifications' HTTP API: the inbox, preferences, tenants' webhooks and failed deliveries."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.audit import audited, not_audited
from services.common.auth import PLATFORM_ADMIN, current_principal, require_auth, require_roles
from services.common.pagination import paginate

from . import inbox, preferences, webhook_admin
from .catalogue import KINDS
from .models import Delivery
from .schemas import (
    DeliveryArgs,
    DeliveryPage,
    InboxArgs,
    InboxItemSchema,
    InboxPage,
    MarkedSchema,
    PreferenceListSchema,
    PreferenceSchema,
    PreferenceUpdateSchema,
    UnreadCountSchema,
    WebhookArgs,
    WebhookCreateSchema,
    WebhookPage,
    WebhookSchema,
    WebhookSecretSchema,
    WebhookUpdateSchema,
)
from .web import BEARER, rt, settings

inbox_blp = Blueprint("inbox", __name__, url_prefix="/inbox", description="Your in-app inbox. / Jūsu iesūtne.")
prefs_blp = Blueprint(
    "preferences",
    __name__,
    url_prefix="/preferences",
    description="Your channels and digest choice per kind. / Jūsu paziņojumu iestatījumi.",
)
hooks_blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks",
    description="A tenant's signed webhooks for integrators. / Pašvaldības vai skolas tīmekļa āķi.",
)
admin_blp = Blueprint(
    "deliveries",
    __name__,
    url_prefix="/admin/deliveries",
    description="Deliveries by status, failed ones included (platform admin). / Piegādes.",
)


def _me() -> uuid.UUID:
    return uuid.UUID(current_principal().user_id)


@inbox_blp.route("")
class Inbox(MethodView):
    @require_auth
    @inbox_blp.arguments(InboxArgs, location="query")
    @inbox_blp.response(200, InboxPage)
    @inbox_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List your inbox, newest first (`unread=true` for unread only)."""
        query = inbox.items_query(_me(), unread=args["unread"], kind=args.get("kind"))
        with rt().db.transaction() as session:
            return paginate(session, query, args["page"], args["page_size"])


@inbox_blp.route("/unread-count")
class UnreadCount(MethodView):
    @require_auth
    @inbox_blp.response(200, UnreadCountSchema)
    @inbox_blp.doc(security=BEARER)
    def get(self) -> Any:
        """Count your unread items."""
        with rt().db.transaction() as session:
            return {"unread": inbox.unread_count(session, _me())}


@inbox_blp.route("/<uuid:item_id>/read")
class MarkRead(MethodView):
    @require_auth
    @not_audited("The reader's own read mark on their inbox; the item keeps when it was read.")
    @inbox_blp.response(200, InboxItemSchema)
    @inbox_blp.doc(security=BEARER)
    def post(self, item_id: uuid.UUID) -> Any:
        """Mark one of your items read."""
        with rt().db.transaction() as session:
            return inbox.mark_read(session, _me(), item_id)


@inbox_blp.route("/read-all")
class MarkAllRead(MethodView):
    @require_auth
    @not_audited("The reader's own read marks on their inbox; each item keeps when it was read.")
    @inbox_blp.response(200, MarkedSchema)
    @inbox_blp.doc(security=BEARER)
    def post(self) -> Any:
        """Mark all your items read."""
        with rt().db.transaction() as session:
            return {"marked": inbox.mark_all_read(session, _me())}


def _labelled(choice: dict[str, Any]) -> dict[str, Any]:
    kind = KINDS[choice["kind"]]
    return {**choice, "label_lv": kind.label_lv, "label_en": kind.label_en}


@prefs_blp.route("")
class Preferences(MethodView):
    @require_auth
    @prefs_blp.response(200, PreferenceListSchema)
    @prefs_blp.doc(security=BEARER)
    def get(self) -> Any:
        """Your choices for every kind of notification (defaults: e-mail and inbox, immediately)."""
        with rt().db.transaction() as session:
            return {"items": [_labelled(c) for c in preferences.list_for(session, _me())]}


@prefs_blp.route("/<kind>")
class PreferenceOfKind(MethodView):
    @require_auth
    @audited("preference.set")
    @prefs_blp.arguments(PreferenceUpdateSchema)
    @prefs_blp.response(200, PreferenceSchema)
    @prefs_blp.doc(security=BEARER)
    def put(self, data: dict[str, Any], kind: str) -> Any:
        """Choose the channels for a kind, and immediate or a daily digest for its e-mails."""
        with rt().db.transaction() as session:
            return _labelled(preferences.set_choice(session, _me(), kind, principal=current_principal(), **data))


@hooks_blp.route("")
class Webhooks(MethodView):
    @require_auth
    @hooks_blp.arguments(WebhookArgs, location="query")
    @hooks_blp.response(200, WebhookPage)
    @hooks_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List the webhooks of the tenants you coordinate."""
        with rt().db.transaction() as session:
            query = webhook_admin.list_query(session, current_principal(), args.get("tenant_id"))
            return paginate(session, query, args["page"], args["page_size"])

    @require_auth
    @audited("webhook.created")
    @hooks_blp.arguments(WebhookCreateSchema)
    @hooks_blp.response(201, WebhookSecretSchema)
    @hooks_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a webhook; the answer holds its signing secret, shown only this once."""
        with rt().db.transaction() as session:
            s = settings()
            return webhook_admin.create(session, current_principal(), data, s.webhook_allowed_networks, s.webhook_key)


@hooks_blp.route("/<uuid:webhook_id>")
class WebhookItem(MethodView):
    @require_auth
    @hooks_blp.response(200, WebhookSchema)
    @hooks_blp.doc(security=BEARER)
    def get(self, webhook_id: uuid.UUID) -> Any:
        """Read a webhook (without its secret)."""
        with rt().db.transaction() as session:
            return webhook_admin.get(session, current_principal(), webhook_id)

    @require_auth
    @audited("webhook.changed")
    @hooks_blp.arguments(WebhookUpdateSchema)
    @hooks_blp.response(200, WebhookSchema)
    @hooks_blp.doc(security=BEARER)
    def patch(self, data: dict[str, Any], webhook_id: uuid.UUID) -> Any:
        """Change a webhook's URL, kinds, description, or switch it off and on."""
        with rt().db.transaction() as session:
            return webhook_admin.change(
                session, current_principal(), webhook_id, data, settings().webhook_allowed_networks
            )

    @require_auth
    @audited("webhook.deleted")
    @hooks_blp.response(204)
    @hooks_blp.doc(security=BEARER)
    def delete(self, webhook_id: uuid.UUID) -> None:
        """Delete a webhook; deliveries still pending for it are dropped."""
        with rt().db.transaction() as session:
            webhook_admin.delete(session, current_principal(), webhook_id)


@hooks_blp.route("/<uuid:webhook_id>/rotate-secret")
class RotateSecret(MethodView):
    @require_auth
    @audited("webhook.secret_rotated")
    @hooks_blp.response(200, WebhookSecretSchema)
    @hooks_blp.doc(security=BEARER)
    def post(self, webhook_id: uuid.UUID) -> Any:
        """Sign with a new secret from now on; the answer shows it once."""
        with rt().db.transaction() as session:
            return webhook_admin.rotate_secret(session, current_principal(), webhook_id, settings().webhook_key)


@hooks_blp.route("/<uuid:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @require_auth
    @hooks_blp.arguments(DeliveryArgs, location="query")
    @hooks_blp.response(200, DeliveryPage)
    @hooks_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], webhook_id: uuid.UUID) -> Any:
        """The webhook's delivery log, newest first: status, attempts, last error and HTTP status."""
        with rt().db.transaction() as session:
            query = webhook_admin.deliveries_query(session, current_principal(), webhook_id)
            if args.get("status"):
                query = query.where(Delivery.status == args["status"])
            return paginate(session, query, args["page"], args["page_size"], rows=True)


@admin_blp.route("")
class Deliveries(MethodView):
    @require_roles(PLATFORM_ADMIN)
    @admin_blp.arguments(DeliveryArgs, location="query")
    @admin_blp.response(200, DeliveryPage)
    @admin_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List deliveries, newest first; `status=failed` shows those that failed past their retries."""
        query = webhook_admin.deliveries_select()
        if args.get("status"):
            query = query.where(Delivery.status == args["status"])
        if args.get("channel"):
            query = query.where(Delivery.channel == args["channel"])
        with rt().db.transaction() as session:
            return paginate(session, query, args["page"], args["page_size"], rows=True)


BLUEPRINTS = (inbox_blp, prefs_blp, hooks_blp, admin_blp)
