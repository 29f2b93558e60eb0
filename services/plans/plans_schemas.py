"""Request and response schemas of the plans API (separate create, update and read shapes)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.common.contracts.plans import PROVIDER_TYPES
from services.common.pagination import PageArgs, page_schema

from .planning import RISK_CATEGORIES
from .workflow import STATUS_LV


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _hours() -> fields.Decimal:
    return fields.Decimal(as_string=True, places=2, validate=validate.Range(min=0, max=1000))


class RiskSchema(Schema):
    id = fields.UUID()
    category = fields.String()
    justification = fields.String()


class RiskCreateSchema(Strict):
    category = fields.String(
        required=True,
        validate=validate.OneOf(RISK_CATEGORIES),
        metadata={"description": "learning, social_health, economic or family"},
    )
    justification = fields.String(required=True, validate=validate.Length(min=3, max=4000))


class MeasureSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    provider_type = fields.String(allow_none=True)
    planned_hours = fields.Decimal(as_string=True, allow_none=True)
    category = fields.String(allow_none=True)
    planned_amount = fields.Decimal(as_string=True, allow_none=True)
    risk_ids = fields.Method("_risk_ids")

    def _risk_ids(self, measure: object) -> list[str]:
        return [str(r.id) for r in getattr(measure, "risks", [])]


class MeasureCreateSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(["consultation", "compensation"]))
    risk_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1))
    provider_type = fields.String(validate=validate.OneOf(PROVIDER_TYPES))
    planned_hours = fields.Decimal(as_string=True, places=2, validate=validate.Range(min=0.5, max=500))
    category = fields.String(validate=validate.Length(min=1, max=40))
    planned_amount = fields.Decimal(as_string=True, places=2, validate=validate.Range(min=0.01, max=100000))

    @validates_schema
    def _shape(self, data: dict[str, object], **_: object) -> None:
        if data["kind"] == "consultation":
            missing = [k for k in ("provider_type", "planned_hours") if data.get(k) is None]
            extra = [k for k in ("category", "planned_amount") if data.get(k) is not None]
        else:
            missing = [k for k in ("category", "planned_amount") if data.get(k) is None]
            extra = [k for k in ("provider_type", "planned_hours") if data.get(k) is not None]
        errors = {k: ["Required for this kind of measure."] for k in missing}
        errors.update({k: ["Not used by this kind of measure."] for k in extra})
        if errors:
            raise ValidationError(errors)


class TransitionSchema(Schema):
    at = fields.DateTime()
    actor_id = fields.UUID()
    action = fields.String()
    from_status = fields.String()
    to_status = fields.String()
    level = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class StudentRefSchema(Schema):
    id = fields.UUID()
    first_name = fields.String()
    last_name = fields.String()
    grade = fields.Integer(allow_none=True)
    course = fields.Integer(allow_none=True)


class PlanSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    tenant_id = fields.UUID()
    school_id = fields.UUID()
    student_id = fields.UUID()
    student = fields.Nested(StudentRefSchema)
    semester = fields.String()
    semester_start = fields.Date()
    semester_end = fields.Date()
    status = fields.String()
    status_lv = fields.Method("_status_lv")
    pending_level = fields.String(allow_none=True, metadata={"description": "director, municipality or ikvd"})
    preparer_id = fields.UUID()
    prepared_on = fields.Date()
    preparation_hours = fields.Decimal(as_string=True)
    planned_financing = fields.Decimal(
        as_string=True, allow_none=True, metadata={"description": "Computed from the measures and the rates"}
    )
    paid_so_far = fields.Decimal(as_string=True)
    application_on_file = fields.Method(
        "_application_on_file",
        metadata={
            "type": "boolean",
            "description": "the signed application is uploaded for this plan (documents, kind application) and fits",
        },
    )
    application_signer = fields.String(allow_none=True, metadata={"description": "from the application on file"})
    application_signed_on = fields.Date(allow_none=True)
    application_document_id = fields.UUID(allow_none=True, metadata={"description": "the document in documents"})
    suspended_reason = fields.String(allow_none=True)
    risks = fields.List(fields.Nested(RiskSchema))
    measures = fields.List(fields.Nested(MeasureSchema))
    revision = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _status_lv(self, plan: object) -> str:
        return STATUS_LV.get(getattr(plan, "status", ""), "")

    def _application_on_file(self, plan: object) -> bool:
        return getattr(plan, "application_version", None) is not None


class PlanDetailSchema(PlanSchema):
    transitions = fields.List(fields.Nested(TransitionSchema))


class PlanCreateSchema(Strict):
    student_id = fields.UUID(required=True)
    semester = fields.String(required=True, validate=validate.Length(min=1, max=40))
    preparer_id = fields.UUID(metadata={"description": "A teacher of the school; you by default"})
    prepared_on = fields.Date()
    preparation_hours = _hours()


class PlanUpdateSchema(Strict):
    preparer_id = fields.UUID()
    prepared_on = fields.Date()
    preparation_hours = _hours()


class ActionSchema(Strict):
    comment = fields.String(
        validate=validate.Length(max=4000), metadata={"description": "Required to send back; the reason to suspend"}
    )


class PlanListArgs(PageArgs):
    school_id = fields.UUID()
    student_id = fields.UUID()
    tenant_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(list(STATUS_LV)))
    semester = fields.String()
    pending_level = fields.String(validate=validate.OneOf(["director", "municipality", "ikvd"]))
    awaiting_me = fields.Boolean(metadata={"description": "Only plans waiting for your approval"})
    q = fields.String(validate=validate.Length(min=1, max=40), metadata={"description": "Part of a plan code"})


class PlanSummarySchema(PlanSchema):
    """A plan in a list: what a coordinator scans and filters by; open the plan for its risks and measures."""

    class Meta:
        exclude = ("risks", "measures")

    risk_categories = fields.Method(
        "_risk_categories",
        metadata={"type": "array", "items": {"type": "string"}, "description": "the plan's risks, by category"},
    )
    measure_count = fields.Method("_measure_count", metadata={"type": "integer"})

    def _risk_categories(self, plan: Any) -> list[str]:
        return sorted({r.category for r in plan.risks})

    def _measure_count(self, plan: Any) -> int:
        return len(plan.measures)


PlanPage = page_schema(PlanSummarySchema, "PlanPage")
