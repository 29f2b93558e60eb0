"""Plans API: agreements, consultations (the KA form), the semester evaluation and director's orders."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.audit import audited
from services.common.auth import (
    DIRECTOR,
    PLAN_PREPARER,
    SCHOOL_COORDINATOR,
    SUPPORT_PROVIDER,
    TEACHER,
    current_principal,
    require_roles,
)

from . import delivery, orders
from .delivery_schemas import (
    AgreementCreateSchema,
    AgreementSchema,
    ConsultationCreateSchema,
    ConsultationListArgs,
    ConsultationPage,
    ConsultationSchema,
    EvaluationSchema,
    EvaluationWriteSchema,
    KaFormSchema,
    OrderCreateSchema,
    OrderListArgs,
    OrderPage,
    OrderSchema,
)
from .web import BEARER, rt, settings

blp = Blueprint(
    "delivery",
    __name__,
    url_prefix="/plans",
    description="Support delivered on a plan: agreements, consultations (KA form), the semester evaluation. / "
    "Vienošanās, konsultācijas (KA veidlapa), semestra izvērtējums.",
)
orders_blp = Blueprint(
    "orders",
    __name__,
    url_prefix="/orders",
    description="Director's orders on remote consultations and practice placements. / Direktora rīkojumi.",
)

RULE_409 = "A rule of delivery stopped it; `code` says which"


@blp.route("/<uuid:plan_id>/agreements")
class Agreements(MethodView):
    @blp.response(200, AgreementSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self, plan_id: uuid.UUID) -> Any:
        """List the plan's agreements with their providers."""
        with rt().db.transaction() as session:
            return delivery.list_agreements(session, current_principal(), plan_id)

    @require_roles(SCHOOL_COORDINATOR, DIRECTOR, SUPPORT_PROVIDER)
    @audited("agreement.recorded")
    @blp.arguments(AgreementCreateSchema)
    @blp.response(201, AgreementSchema)
    @blp.alt_response(409, description=RULE_409)
    @blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Record an agreement on a measure: a support provider's on a consultation, the school coordinator's on a
        compensation. The first puts the plan in progress, so a plan of compensations alone starts too."""
        with rt().db.transaction() as session:
            return delivery.record_agreement(session, rt().outbox, current_principal(), plan_id, data)


@blp.route("/<uuid:plan_id>/consultations")
class Consultations(MethodView):
    @blp.arguments(ConsultationListArgs, location="query")
    @blp.response(200, ConsultationPage)
    @blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """List the plan's consultations, newest first, by measure, provider, mode or dates."""
        with rt().db.transaction() as session:
            return delivery.list_consultations(session, current_principal(), plan_id, args)

    @require_roles(SUPPORT_PROVIDER, SCHOOL_COORDINATOR)
    @audited("consultation.recorded")
    @blp.arguments(ConsultationCreateSchema)
    @blp.response(201, ConsultationSchema)
    @blp.alt_response(409, description=RULE_409)
    @blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Record a consultation held (a KA form line); remote ones need an order and the student's confirmation."""
        with rt().db.transaction() as session:
            return delivery.record_consultation(
                session, rt().outbox, current_principal(), plan_id, data, settings().remote_confirmation_days
            )


@blp.route("/<uuid:plan_id>/ka-form")
class KaForm(MethodView):
    @blp.response(200, KaFormSchema)
    @blp.doc(security=BEARER)
    def get(self, plan_id: uuid.UUID) -> Any:
        """The consultative support (KA) form: lines by date with providers, and totals per measure."""
        with rt().db.transaction() as session:
            return delivery.ka_form(session, current_principal(), plan_id)


@blp.route("/<uuid:plan_id>/evaluation")
class PlanEvaluation(MethodView):
    @blp.response(200, EvaluationSchema)
    @blp.doc(security=BEARER)
    def get(self, plan_id: uuid.UUID) -> Any:
        """Read the plan's semester evaluation."""
        with rt().db.transaction() as session:
            return delivery.get_evaluation(session, current_principal(), plan_id)

    @require_roles(PLAN_PREPARER, TEACHER)
    @audited("evaluation.written", "evaluation.rewritten")
    @blp.arguments(EvaluationWriteSchema)
    @blp.response(200, EvaluationSchema)
    @blp.alt_response(409, description=RULE_409)
    @blp.doc(security=BEARER)
    def put(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Write the semester evaluation (the preparer or a plan preparer of the school).

        In progress: any time. Approved or suspended: from the semester's last day.
        """
        with rt().db.transaction() as session:
            return delivery.write_evaluation(session, rt().outbox, current_principal(), plan_id, data)


@orders_blp.route("")
class Orders(MethodView):
    @orders_blp.arguments(OrderListArgs, location="query")
    @orders_blp.response(200, OrderPage)
    @orders_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List the director's orders you can see, by school, kind or a date they cover."""
        with rt().db.transaction() as session:
            return orders.list_orders(session, current_principal(), args)

    @require_roles(DIRECTOR)
    @audited("order.registered")
    @orders_blp.arguments(OrderCreateSchema)
    @orders_blp.response(201, OrderSchema)
    @orders_blp.alt_response(409, description="The school already has an order with this number")
    @orders_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a director's order (the school's director); the region's coordinator is notified."""
        with rt().db.transaction() as session:
            return orders.register_order(session, rt().outbox, current_principal(), data)


@orders_blp.route("/<uuid:order_id>")
class OrderById(MethodView):
    @orders_blp.response(200, OrderSchema)
    @orders_blp.doc(security=BEARER)
    def get(self, order_id: uuid.UUID) -> Any:
        """Read an order with its students (name, class, plan code) and providers."""
        with rt().db.transaction() as session:
            return orders.get_order(session, current_principal(), order_id)


BLUEPRINTS = (blp, orders_blp)
