"""`GET /audit` on every service: its audit records, newest first, for platform admins and auditors,
scoped to the tenants (or regions) an auditor's grants reach; filtered by target, action, actor, time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from .audit import TABLE, reader_scope
from .auth import AUDITOR, PLATFORM_ADMIN, current_principal, require_roles
from .pagination import PageArgs, page_schema, paginate
from .runtime import ServiceRuntime
from .tenancy import tenant_scope

# the tenants of some regions, from the service's own read model (None: the service cannot tell)
RegionTenants = Callable[[frozenset[str]], Select[Any]]


class AuditRecordSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.UUID(allow_none=True, metadata={"description": "The user; empty for the system"})
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String()
    tenant_id = fields.UUID(allow_none=True)
    request_id = fields.String(allow_none=True, metadata={"description": "The HTTP request or message id"})
    details = fields.Dict()


class AuditArgs(PageArgs):
    target_type = fields.String(validate=validate.Length(max=40))
    target_id = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.Length(max=60))
    actor_id = fields.UUID()
    tenant_id = fields.UUID()
    since = fields.AwareDateTime(metadata={"description": "From this time on (inclusive)"})
    until = fields.AwareDateTime(metadata={"description": "Before this time"})


AuditPage = page_schema(AuditRecordSchema, "AuditPage")


def audit_blueprint(runtime: ServiceRuntime, region_tenants: RegionTenants | None = None) -> Blueprint:
    blp = Blueprint("audit", __name__, url_prefix="/audit", description="Who changed or downloaded what, and when.")
    table = runtime.metadata.tables[TABLE]

    def scope(session: Session) -> ColumnElement[bool]:
        principal = reader_scope(current_principal())
        clause = tenant_scope(principal, table.c.tenant_id)
        regions = principal.regions()
        if regions and region_tenants is not None and not principal.is_platform_admin:
            clause = or_(clause, table.c.tenant_id.in_(region_tenants(regions)))
        return clause

    @blp.route("")
    class AuditRecords(MethodView):
        @require_roles(PLATFORM_ADMIN, AUDITOR)
        @blp.arguments(AuditArgs, location="query")
        @blp.response(200, AuditPage)
        @blp.doc(security=[{"bearerAuth": []}])
        def get(self, args: dict[str, Any]) -> dict[str, Any]:
            """List audit records you may read, newest first (platform admin; auditors of a region or tenant)."""
            c = table.c
            with runtime.db.session() as session:
                query = select(table).where(scope(session)).order_by(c.at.desc(), c.id.desc())
                for name in ("target_type", "target_id", "action", "actor_id", "tenant_id"):
                    if args.get(name) is not None:
                        query = query.where(c[name] == args[name])
                if args.get("since") is not None:
                    query = query.where(c.at >= args["since"])
                if args.get("until") is not None:
                    query = query.where(c.at < args["until"])
                return paginate(session, query, args["page"], args["page_size"], rows=True)

    return blp
