"""Finance API: reservations, reimbursement statements, and the overview per tenant, region and all."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.audit import audited
from services.common.auth import REGIONS, current_principal, require_roles
from services.common.errors import NotFound
from services.common.pagination import paginate

from . import queries, statements
from .access import READERS, STATEMENT_MAKERS, require_acts_for
from .schemas import (
    AllOverviewSchema,
    OverviewArgs,
    RegionOverviewSchema,
    ReservationListArgs,
    ReservationPage,
    StatementCreateSchema,
    StatementListArgs,
    StatementPage,
    StatementSchema,
    TenantOverviewSchema,
)
from .web import BEARER, rt

money_blp = Blueprint(
    "money",
    __name__,
    url_prefix="",
    description="Budget reservations and the overview. / Budžeta rezervācijas un kopskats.",
)
statements_blp = Blueprint(
    "statements",
    __name__,
    url_prefix="/statements",
    description="Monthly reimbursement statements (CSV, XLSX, PDF, stored with the documents). / Atmaksas pārskati.",
)


@money_blp.route("/reservations")
class Reservations(MethodView):
    @require_roles(*READERS)
    @money_blp.arguments(ReservationListArgs, location="query")
    @money_blp.response(200, ReservationPage)
    @money_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List what approved plans hold of their tenant's budget, and what was released."""
        with rt().db.transaction() as session:
            query = queries.reservations_query(current_principal(), args)
            return paginate(session, query, args["page"], args["page_size"])


@money_blp.route("/overview/tenants/<uuid:tenant_id>")
class TenantOverview(MethodView):
    @require_roles(*READERS)
    @money_blp.arguments(OverviewArgs, location="query")
    @money_blp.response(200, TenantOverviewSchema)
    @money_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], tenant_id: uuid.UUID) -> Any:
        """A tenant's semester: budget, reserved, released, claimed, accepted, paid, by category."""
        with rt().db.transaction() as session:
            return queries.tenant_overview(session, current_principal(), tenant_id, args["semester"])


@money_blp.route("/overview/regions/<region>")
class RegionOverview(MethodView):
    @require_roles(*READERS)
    @money_blp.arguments(OverviewArgs, location="query")
    @money_blp.response(200, RegionOverviewSchema)
    @money_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], region: str) -> Any:
        """A region's tenants and their sum (the region's coordinator, the platform admin)."""
        if region not in REGIONS:
            raise NotFound("region")
        with rt().db.transaction() as session:
            return queries.region_overview(session, current_principal(), region, args["semester"])


@money_blp.route("/overview")
class AllOverview(MethodView):
    @require_roles(*READERS)
    @money_blp.arguments(OverviewArgs, location="query")
    @money_blp.response(200, AllOverviewSchema)
    @money_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """Every region's sum and the total (the platform admin)."""
        with rt().db.transaction() as session:
            return queries.all_overview(session, current_principal(), args["semester"])


@statements_blp.route("")
class Statements(MethodView):
    @require_roles(*READERS)
    @statements_blp.arguments(StatementListArgs, location="query")
    @statements_blp.response(200, StatementPage)
    @statements_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List statements you can see, newest month first."""
        with rt().db.transaction() as session:
            query = queries.statements_query(current_principal(), args)
            return paginate(session, query, args["page"], args["page_size"])

    @require_roles(*STATEMENT_MAKERS)
    @audited("statement.built")
    @statements_blp.arguments(StatementCreateSchema)
    @statements_blp.response(201, StatementSchema)
    @statements_blp.alt_response(200, schema=StatementSchema, description="The data is unchanged: the latest one")
    @statements_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Build a tenant's statement of a month now; the accountant is notified when it is new."""
        principal = current_principal()
        require_acts_for(principal, data["tenant_id"], None, *STATEMENT_MAKERS)
        with rt().db.transaction() as session:
            statement, new = statements.build(
                session,
                rt().outbox,
                rt().staging,
                data["tenant_id"],
                data["month"],
                trigger="on_demand",
                requested_by=uuid.UUID(principal.user_id),
            )
        return statement, (201 if new else 200)


@statements_blp.route("/<uuid:statement_id>")
class StatementById(MethodView):
    @require_roles(*READERS)
    @statements_blp.response(200, StatementSchema)
    @statements_blp.doc(security=BEARER)
    def get(self, statement_id: uuid.UUID) -> Any:
        """Read a statement: totals per category and per student, and its files' document ids."""
        with rt().db.transaction() as session:
            return queries.statement(session, current_principal(), statement_id)


BLUEPRINTS = (money_blp, statements_blp)
