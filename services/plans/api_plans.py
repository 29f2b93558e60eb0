"""Plans API: plans, their risks and measures, and the lifecycle actions of the approval chain."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.audit import audited
from services.common.auth import current_principal
from services.common.pagination import paginate

from . import planning
from .plans_schemas import (
    ActionSchema,
    MeasureCreateSchema,
    MeasureSchema,
    PlanCreateSchema,
    PlanDetailSchema,
    PlanListArgs,
    PlanPage,
    PlanUpdateSchema,
    RiskCreateSchema,
    RiskSchema,
)
from .student_rules import eligible_on
from .web import BEARER, rt, settings

blp = Blueprint(
    "plans",
    __name__,
    url_prefix="/plans",
    description="Individual support plans (IAP) and their approval chain. / Individuālie atbalsta plāni.",
)


def _eligible(student: Any, day: Any) -> Any:
    return eligible_on(student, day, settings().grades_1_4_eligible_from)


@blp.route("")
class Plans(MethodView):
    @blp.arguments(PlanListArgs, location="query")
    @blp.response(200, PlanPage)
    @blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List plans you can see: by school, student, status, semester, or those awaiting your approval."""
        with rt().db.transaction() as session:
            return paginate(session, planning.plans_query(current_principal(), args), args["page"], args["page_size"])

    @audited("plan.created")
    @blp.arguments(PlanCreateSchema)
    @blp.response(201, PlanDetailSchema)
    @blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Start a plan (draft) for a student and a semester; one plan per student per semester."""
        with rt().db.transaction() as session:
            return planning.create_plan(session, rt().outbox, current_principal(), data, _eligible)


@blp.route("/<uuid:plan_id>")
class PlanById(MethodView):
    @blp.response(200, PlanDetailSchema)
    @blp.doc(security=BEARER)
    def get(self, plan_id: uuid.UUID) -> Any:
        """Read a plan with its risks, measures and every transition."""
        with rt().db.transaction() as session:
            return planning.get_plan(session, current_principal(), plan_id)

    @audited("plan.updated")
    @blp.arguments(PlanUpdateSchema)
    @blp.response(200, PlanDetailSchema)
    @blp.doc(security=BEARER)
    def patch(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Change preparation hours, the preparer or the preparation date (draft or under review).

        The signed application is put on file by uploading it to documents for this plan (`POST /documents`,
        `kind=application`, `plan_id`, `student_id`, `signer`, `signed_on`); plans records it from there."""
        with rt().db.transaction() as session:
            return planning.update_plan(session, rt().outbox, current_principal(), plan_id, data)


@blp.route("/<uuid:plan_id>/risks")
class PlanRisks(MethodView):
    @audited("plan.risk_added")
    @blp.arguments(RiskCreateSchema)
    @blp.response(201, RiskSchema)
    @blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Add a risk with its justification."""
        with rt().db.transaction() as session:
            return planning.add_risk(session, rt().outbox, current_principal(), plan_id, data)


@blp.route("/<uuid:plan_id>/risks/<uuid:risk_id>")
class PlanRisk(MethodView):
    @audited("plan.risk_removed")
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, plan_id: uuid.UUID, risk_id: uuid.UUID) -> None:
        """Remove a risk no measure is linked to."""
        with rt().db.transaction() as session:
            planning.remove_risk(session, rt().outbox, current_principal(), plan_id, risk_id)


@blp.route("/<uuid:plan_id>/measures")
class PlanMeasures(MethodView):
    @audited("plan.measure_added")
    @blp.arguments(MeasureCreateSchema)
    @blp.response(201, MeasureSchema)
    @blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Add a consultation (provider type, hours) or a compensation (category, amount; economic risk only)."""
        with rt().db.transaction() as session:
            return planning.add_measure(session, rt().outbox, current_principal(), plan_id, data)


@blp.route("/<uuid:plan_id>/measures/<uuid:measure_id>")
class PlanMeasure(MethodView):
    @audited("plan.measure_removed")
    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self, plan_id: uuid.UUID, measure_id: uuid.UUID) -> None:
        """Remove a measure that has no agreements."""
        with rt().db.transaction() as session:
            planning.remove_measure(session, rt().outbox, current_principal(), plan_id, measure_id)


def _action_view(action: str, doc: str) -> type[MethodView]:
    class Action(MethodView):
        @audited(f"plan.{action}")
        @blp.arguments(ActionSchema)
        @blp.response(200, PlanDetailSchema)
        @blp.alt_response(409, description="A rule of the lifecycle stopped it; `code` says which")
        @blp.doc(security=BEARER, summary=doc, description=doc)
        def post(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
            with rt().db.transaction() as session:
                return planning.transition(session, rt().outbox, current_principal(), plan_id, action, data)

    Action.post.__doc__ = doc
    Action.__name__ = f"Plan_{action}"
    return Action


for _action, _path, _doc in (
    (
        "submit",
        "submit",
        "Submit for approval: needs the signed application uploaded for the plan (documents, kind `application`) "
        "and a teacher as preparer.",
    ),
    ("approve", "approve", "Approve at your level of the chain."),
    ("send_back", "send-back", "Send back for changes, with a comment."),
    ("suspend", "suspend", "Suspend, with the reason in `comment` (director)."),
    ("resume", "resume", "Resume a suspended plan within its semester (director); it goes back for review."),
    ("review", "review", "Open an approved plan for changes; every level approves it again."),
    ("delete", "delete", "Make the plan inactive; only while nothing has been paid for it."),
):
    blp.route(f"/<uuid:plan_id>/{_path}", endpoint=f"plan_{_action}")(_action_view(_action, _doc))

BLUEPRINTS = (blp,)
