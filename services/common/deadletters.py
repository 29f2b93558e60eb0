"""Dead letters a platform admin can list and replay, mounted by every service."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from .audit import SESSION_KEY, audited, record
from .auth import PLATFORM_ADMIN, current_principal, require_roles
from .errors import Conflict, NotFound
from .messaging import replay_dead_letter
from .pagination import PageArgs, page_schema, paginate
from .runtime import ServiceRuntime


class DeadLetterSchema(Schema):
    id = fields.UUID()
    message_id = fields.String()
    task_name = fields.String()
    version = fields.Integer()
    payload = fields.Dict()
    correlation_id = fields.String(allow_none=True)
    error_type = fields.String()
    error = fields.String()
    attempts = fields.Integer()
    failed_at = fields.DateTime()
    replayed_at = fields.DateTime(allow_none=True)
    replayed_by = fields.String(allow_none=True)


class DeadLetterArgs(PageArgs):
    status = fields.String(load_default="open", metadata={"description": "open, replayed or all"})
    task_name = fields.String()


class ReplaySchema(Schema):
    dead_letter_id = fields.UUID()
    message_id = fields.UUID()


DeadLetterPage = page_schema(DeadLetterSchema, "DeadLetterPage")


def dead_letter_blueprint(runtime: ServiceRuntime) -> Blueprint:
    blp = Blueprint(
        "dead_letters",
        __name__,
        url_prefix="/admin/dead-letters",
        description="Messages that failed past their retries (platform admin).",
    )
    table = runtime.tables.dead_letters

    @blp.route("")
    class DeadLetters(MethodView):
        @require_roles(PLATFORM_ADMIN)
        @blp.arguments(DeadLetterArgs, location="query")
        @blp.response(200, DeadLetterPage)
        @blp.doc(security=[{"bearerAuth": []}])
        def get(self, args: dict[str, Any]) -> dict[str, Any]:
            """List dead letters, newest first."""
            query = select(table).order_by(table.c.failed_at.desc())
            if args["status"] == "open":
                query = query.where(table.c.replayed_at.is_(None))
            elif args["status"] == "replayed":
                query = query.where(table.c.replayed_at.is_not(None))
            if args.get("task_name"):
                query = query.where(table.c.task_name == args["task_name"])
            with runtime.db.session() as session:
                return paginate(session, query, args["page"], args["page_size"], rows=True)

    @blp.route("/<uuid:dead_letter_id>/replay")
    class Replay(MethodView):
        @require_roles(PLATFORM_ADMIN)
        @audited("dead_letter.replayed")
        @blp.response(202, ReplaySchema)
        @blp.doc(security=[{"bearerAuth": []}])
        def post(self, dead_letter_id: uuid.UUID) -> dict[str, Any]:
            """Send a dead letter again; the handler's idempotency keeps it to one effect."""
            principal = current_principal()
            with runtime.db.session() as session:
                exists = session.execute(
                    select(table.c.id, table.c.task_name).where(table.c.id == dead_letter_id)
                ).first()
                if exists is None:
                    raise NotFound("dead letter")
                mid = replay_dead_letter(session, runtime.outbox, runtime.tables, dead_letter_id, principal.user_id)
                if mid is None:
                    raise Conflict(
                        "already_replayed",
                        "This dead letter was already replayed.",
                        "Šī ziņa jau ir nosūtīta atkārtoti.",
                    )
                if SESSION_KEY in session.info:  # every service has its audit table (notifications: soon)
                    record(
                        session,
                        principal,
                        "dead_letter.replayed",
                        "dead_letter",
                        dead_letter_id,
                        tenant_id=None,
                        task_name=exists.task_name,
                        message_id=mid,
                    )
            return {"dead_letter_id": dead_letter_id, "message_id": mid}

    return blp
