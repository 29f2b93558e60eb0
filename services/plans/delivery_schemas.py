"""Request and response schemas for agreements, consultations (KA form), orders, evaluations, timelines."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.common.pagination import PageArgs, page_schema

from .delivery_rules import OUTCOMES
from .orders import KINDS
from .plans_schemas import Strict, StudentRefSchema

MODES = ("in_person", "remote")


def _hours(**kwargs: object) -> fields.Decimal:
    return fields.Decimal(as_string=True, places=2, **kwargs)  # type: ignore[arg-type]


# ---- agreements ---------------------------------------------------------------------------------


class AgreementCreateSchema(Strict):
    measure_id = fields.UUID(required=True, metadata={"description": "A measure of the plan"})
    provider_id = fields.UUID(
        required=True,
        metadata={
            "description": "Who agrees with the student: for a consultation a support provider of the plan's school, "
            "for a compensation the school's coordinator (GET /staff on identity lists them)"
        },
    )
    signed_on = fields.Date(required=True)


class AgreementSchema(Schema):
    id = fields.UUID()
    plan_id = fields.UUID()
    measure_id = fields.UUID()
    measure_kind = fields.String(allow_none=True, metadata={"description": "consultation or compensation"})
    provider_type = fields.String(allow_none=True)
    category = fields.String(allow_none=True, metadata={"description": "a compensation's category"})
    provider_id = fields.UUID()
    provider_name = fields.String(allow_none=True)
    signed_on = fields.Date()
    created_by = fields.UUID()
    created_at = fields.DateTime()


# ---- consultations ------------------------------------------------------------------------------


class ConsultationCreateSchema(Strict):
    measure_id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    held_on = fields.Date(required=True, metadata={"description": "Inside the plan's semester, not in the future"})
    hours = _hours(required=True, validate=validate.Range(min=0, min_inclusive=False, max=24))
    subject = fields.String(
        required=True, validate=validate.Length(min=1, max=200), metadata={"description": "Subject or support type"}
    )
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    order_id = fields.UUID(
        allow_none=True,
        metadata={"description": "Remote only: the director's order; found by date, student and provider if omitted"},
    )
    student_confirmed_on = fields.Date(
        allow_none=True,
        metadata={"description": "The student's confirmation; a remote consultation needs it within a day"},
    )

    @validates_schema
    def _order_only_remote(self, data: dict[str, object], **_: object) -> None:
        if data.get("mode") == "in_person" and data.get("order_id"):
            raise ValidationError({"order_id": ["Only a remote consultation refers to an order."]})


class ConsultationSchema(Schema):
    id = fields.UUID()
    plan_id = fields.UUID()
    measure_id = fields.UUID()
    measure_kind = fields.String(allow_none=True, metadata={"description": "consultation or compensation"})
    provider_type = fields.String(allow_none=True)
    category = fields.String(allow_none=True, metadata={"description": "a compensation's category"})
    provider_id = fields.UUID()
    provider_name = fields.String(allow_none=True)
    held_on = fields.Date()
    hours = _hours()
    subject = fields.String()
    mode = fields.String()
    order_id = fields.UUID(allow_none=True)
    order_number = fields.String(allow_none=True)
    student_confirmed_on = fields.Date(allow_none=True)
    created_by = fields.UUID()
    created_at = fields.DateTime()


class ConsultationListArgs(PageArgs):
    measure_id = fields.UUID()
    provider_id = fields.UUID()
    mode = fields.String(validate=validate.OneOf(MODES))
    held_from = fields.Date()
    held_to = fields.Date()


ConsultationPage = page_schema(ConsultationSchema, "ConsultationPage")


class MeasureTotalSchema(Schema):
    measure_id = fields.UUID()
    provider_type = fields.String(allow_none=True)
    planned_hours = _hours()
    delivered_hours = _hours()
    remaining_hours = _hours()
    lines = fields.Integer()


class KaFormSchema(Schema):
    """The consultative support (KA) form of a plan."""

    plan_id = fields.UUID()
    plan_code = fields.String()
    status = fields.String()
    school_id = fields.UUID()
    semester = fields.String()
    semester_start = fields.Date()
    semester_end = fields.Date()
    student = fields.Nested(StudentRefSchema)
    lines = fields.List(fields.Nested(ConsultationSchema), metadata={"description": "By date, oldest first"})
    totals = fields.List(fields.Nested(MeasureTotalSchema), metadata={"description": "Per consultation measure"})
    total_hours = _hours()


# ---- director's orders --------------------------------------------------------------------------


class OrderProviderInSchema(Strict):
    provider_id = fields.UUID(required=True)
    subject = fields.String(
        required=True, validate=validate.Length(min=1, max=200), metadata={"description": "Subject or support type"}
    )


class OrderCreateSchema(Strict):
    school_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    issued_on = fields.Date(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    platform = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The platform or way of remote work (required for remote consultations)"},
    )
    confirmation_method = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "How students confirm each consultation (required for remote consultations)"},
    )
    plan_ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "The students, by their plans of this school"},
    )
    providers = fields.List(
        fields.Nested(OrderProviderInSchema),
        load_default=list,
        validate=validate.Length(max=200),
        metadata={"description": "Support providers of the school (at least one for remote consultations)"},
    )

    @validates_schema
    def _remote_needs(self, data: dict[str, object], **_: object) -> None:
        if data.get("kind") != "remote_consultations":
            return
        errors = {k: ["Required for a remote-consultations order."] for k in ("platform", "confirmation_method")}
        errors = {k: v for k, v in errors.items() if not data.get(k)}
        if not data.get("providers"):
            errors["providers"] = ["A remote-consultations order names at least one provider."]
        if errors:
            raise ValidationError(errors)


class OrderStudentSchema(Schema):
    plan_id = fields.UUID()
    plan_code = fields.String()
    student_id = fields.UUID()
    first_name = fields.String()
    last_name = fields.String()
    grade = fields.Integer(allow_none=True)
    course = fields.Integer(allow_none=True)


class OrderProviderSchema(Schema):
    provider_id = fields.UUID()
    full_name = fields.String(allow_none=True)
    subject = fields.String()


class OrderSchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    school_id = fields.UUID()
    kind = fields.String()
    number = fields.String()
    issued_on = fields.Date()
    valid_from = fields.Date()
    valid_to = fields.Date()
    platform = fields.String(allow_none=True)
    confirmation_method = fields.String(allow_none=True)
    issued_by = fields.UUID()
    created_at = fields.DateTime()
    students = fields.List(fields.Nested(OrderStudentSchema))
    providers = fields.List(fields.Nested(OrderProviderSchema))


class OrderListArgs(PageArgs):
    school_id = fields.UUID()
    tenant_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(KINDS))
    covers = fields.Date(metadata={"description": "Only orders whose period includes this date"})


OrderPage = page_schema(OrderSchema, "OrderPage")


# ---- evaluation ---------------------------------------------------------------------------------


class EvaluationWriteSchema(Strict):
    outcome = fields.String(
        required=True, validate=validate.OneOf(OUTCOMES), metadata={"description": "goals_met, partly_met or not_met"}
    )
    text = fields.String(required=True, validate=validate.Length(min=3, max=8000))


class EvaluationSchema(Schema):
    plan_id = fields.UUID()
    outcome = fields.String()
    text = fields.String()
    written_by = fields.UUID()
    written_at = fields.DateTime()


# ---- timeline -----------------------------------------------------------------------------------


class TimelineArgs(PageArgs):
    kind = fields.String(validate=validate.Length(min=1, max=60))
    plan_id = fields.UUID()
    source = fields.String(validate=validate.OneOf(["plans", "documents", "finance"]))


class TimelineEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    source = fields.String()
    kind = fields.String()
    plan_id = fields.UUID(allow_none=True)
    summary_lv = fields.String()
    summary_en = fields.String()
    details = fields.Dict()


TimelinePage = page_schema(TimelineEventSchema, "TimelinePage")
