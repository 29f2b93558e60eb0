"""Finance API: programme settings, their history, and changes by the platform admin."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.audit import audited
from services.common.auth import PLATFORM_ADMIN, current_principal, require_auth, require_roles

from . import queries, settings_changes
from .schemas import SettingsChangeSchema, SettingsRevisionSchema
from .web import BEARER, rt

blp = Blueprint(
    "settings",
    __name__,
    url_prefix="/settings",
    description="Programme settings (rates, caps, semesters, deadlines, budgets) by revision; EXAMPLE values until "
    "changed. / Programmas iestatījumi pa redakcijām.",
)


@blp.route("")
class Settings(MethodView):
    @require_auth
    @blp.response(200, SettingsRevisionSchema)
    @blp.doc(security=BEARER)
    def get(self) -> Any:
        """Read the settings in force today."""
        with rt().db.transaction() as session:
            return queries.settings_in_force(session)

    @require_roles(PLATFORM_ADMIN)
    @audited("settings.changed")
    @blp.arguments(SettingsChangeSchema)
    @blp.response(201, SettingsRevisionSchema)
    @blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Change settings from a date (platform admin); the affected claims are checked again."""
        with rt().db.transaction() as session:
            row = settings_changes.change(session, rt().outbox, current_principal(), data)
            return queries.revision_view(row)


@blp.route("/history")
class History(MethodView):
    @require_auth
    @blp.response(200, SettingsRevisionSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> Any:
        """List every revision, newest first."""
        with rt().db.transaction() as session:
            return queries.history(session)


BLUEPRINTS = (blp,)
