"""Request and response schemas of documents' API (separate upload, filter and read shapes)."""

from __future__ import annotations

import json
from typing import Any

from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from services.common.audit_api import AuditRecordSchema
from services.common.contracts.documents import (
    APPLICATION_SIGNERS,
    COMPENSATION_CATEGORIES,
    DOCUMENT_KINDS,
    EXPENSE_CATEGORIES,
)
from services.common.months import Month
from services.common.pagination import PageArgs, page_schema

from .models import REVIEW_STATUSES


class ClaimLineIn(Schema):
    """One line of a document that claims several costs (an invoice over months or categories)."""

    class Meta:
        unknown = RAISE

    category = fields.String(required=True, validate=validate.OneOf(EXPENSE_CATEGORIES))
    month = Month(required=True)
    amount = fields.Decimal(required=True, places=None, metadata={"description": "euros, at most two decimals"})


class ClaimLines(fields.Field):
    """Lines as a JSON array in one form field (multipart has no nesting): `[{"category": ..., "month":
    "2026-10", "amount": "12.30"}, ...]`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            raw = json.loads(value) if isinstance(value, str | bytes) else value
        except ValueError:
            raise ValidationError("A JSON array of lines. / Rindas kā JSON masīvs.") from None
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LINES:
            raise ValidationError(f"A JSON array of 1 to {MAX_LINES} lines. / No 1 līdz {MAX_LINES} rindām.")
        loaded: list[dict[str, Any]] = ClaimLineIn(many=True).load(raw)
        return loaded


MAX_LINES = 100


class Strict(Schema):
    class Meta:
        unknown = RAISE


class MetadataFields(Strict):
    """What an upload may tell about the document; which fields a kind needs is checked per kind."""

    student_id = fields.UUID(metadata={"description": "the student in plans (never a personal code)"})
    plan_id = fields.UUID()
    category = fields.String(validate=validate.OneOf(EXPENSE_CATEGORIES))
    month = Month()
    amount = fields.Decimal(places=None, metadata={"description": "euros, at most two decimals"})
    issued_on = fields.Date()
    valid_from = fields.Date()
    valid_to = fields.Date()
    issuer = fields.String(
        validate=validate.Length(min=2, max=200),
        metadata={"description": "attestations: the issuing municipality or social service"},
    )
    categories = fields.List(
        fields.String(validate=validate.OneOf(COMPENSATION_CATEGORIES)),
        metadata={"description": "attestations: the costs it covers (repeat the field)"},
    )
    signer = fields.String(
        validate=validate.OneOf(APPLICATION_SIGNERS),
        metadata={"description": "applications: who signed it (a parent or guardian for a minor, an adult student)"},
    )
    signed_on = fields.Date(metadata={"description": "applications: the day it was signed"})
    lines = ClaimLines(
        metadata={
            "type": "string",
            "description": "expense documents that claim several costs (an invoice): a JSON array of "
            '{"category", "month" (YYYY-MM), "amount"} adding up to `amount`; finance makes one claim per line',
        }
    )


class UploadForm(MetadataFields):
    file = Upload(required=True, metadata={"description": "the document (PDF, JPEG, PNG or XLSX as the kind allows)"})
    kind = fields.String(required=True, validate=validate.OneOf(DOCUMENT_KINDS))
    tenant_id = fields.UUID(metadata={"description": "needed only when you upload for several tenants"})
    school_id = fields.UUID(metadata={"description": "needed only when you upload for several schools"})


class VersionForm(MetadataFields):
    file = Upload(required=True, metadata={"description": "the new version's bytes"})


class UploadHeaders(Schema):
    """The upload's own headers (every other header is left alone)."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=validate.Regexp(
            r"^[\x21-\x7e]{1,255}$", error="1 to 255 visible ASCII characters. / No 1 līdz 255 redzamām ASCII zīmēm."
        ),
        metadata={
            "description": "A key of your choosing (a UUID) per file you upload, sent again with every retry of "
            "that upload: a retry answers the first upload's document (201, `Idempotent-Replayed: true`), never a "
            "second one. While the first is still uploading a retry gets 409 `upload_in_progress` (Retry-After); "
            "the same key with another file, metadata or target gets 422 `idempotency_key_reused`. Kept for "
            "DOCUMENTS_IDEMPOTENCY_HOURS (24) per uploader.",
            "example": "3f2b8c1e-2d4a-4c59-9a43-7d2f1c0b9e61",
        },
    )


class VersionSchema(Schema):
    number = fields.Integer()
    filename = fields.String()
    media_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    duplicate = fields.Boolean()
    duplicate_of = fields.List(fields.UUID())
    uploaded_by = fields.UUID()
    created_at = fields.DateTime()
    stored_at = fields.DateTime()


class ReasonSchema(Schema):
    rule_id = fields.String()
    rule_version = fields.Integer()
    outcome = fields.String()
    explanation_lv = fields.String()
    explanation_en = fields.String()


class StatusChangeSchema(Schema):
    version = fields.Integer()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    applied = fields.Boolean(metadata={"description": "false for a verdict on an older version"})
    source = fields.String()
    reasons = fields.List(fields.Nested(ReasonSchema))
    at = fields.DateTime()


class ClaimLineOut(Schema):
    category = fields.String()
    month = Month()
    amount = fields.String(metadata={"description": "euros"})


class DocumentSchema(Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    school_id = fields.UUID(allow_none=True)
    kind = fields.String()
    status = fields.String(
        metadata={
            "description": "where the document is: `received` (stored; a kind without checks stays so), `queued` "
            "(its check is waiting for finance, an application for plans), `checking` (finance is at it), then "
            "the verdict: `accepted`, `needs_fix` or `rejected`",
            "enum": list(REVIEW_STATUSES),
        }
    )
    student_id = fields.UUID(allow_none=True)
    plan_id = fields.UUID(allow_none=True)
    category = fields.String(allow_none=True)
    month = Month(allow_none=True)
    amount = fields.Decimal(places=2, as_string=True, allow_none=True)
    issued_on = fields.Date(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    issuer = fields.String(allow_none=True)
    signer = fields.String(allow_none=True)
    signed_on = fields.Date(allow_none=True)
    categories = fields.List(fields.String())
    lines = fields.List(fields.Nested(ClaimLineOut), allow_none=True)
    current_version = fields.Integer()
    retain_until = fields.Date()
    uploaded_by = fields.UUID()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DocumentDetailSchema(DocumentSchema):
    """A document with its versions and review history: what `GET /documents/{id}` and every upload answer."""

    versions = fields.List(fields.Nested(VersionSchema), attribute="stored_versions")
    history = fields.List(fields.Nested(StatusChangeSchema))
    duplicate = fields.Method(
        "_duplicate",
        metadata={"type": "boolean", "description": "the current version's bytes were already stored in this tenant"},
    )
    duplicate_of = fields.Method(
        "_duplicate_of",
        metadata={"type": "array", "items": {"type": "string", "format": "uuid"}, "description": "those documents"},
    )

    def _duplicate(self, doc: Any) -> bool:
        return bool(self._duplicate_of(doc))

    def _duplicate_of(self, doc: Any) -> list[str]:
        current = next((v for v in doc.stored_versions if v.number == doc.current_version), None)
        return list(current.duplicate_of) if current is not None else []


class DocumentListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(DOCUMENT_KINDS))
    status = fields.String(validate=validate.OneOf(REVIEW_STATUSES))
    tenant_id = fields.UUID()
    school_id = fields.UUID()
    student_id = fields.UUID()
    plan_id = fields.UUID()
    month = Month()


DocumentPage = page_schema(DocumentSchema, "DocumentPage")


class DownloadArgs(Strict):
    version = fields.Integer(validate=validate.Range(min=1), metadata={"description": "default: the current"})


class DownloadLinkSchema(Schema):
    url = fields.String(metadata={"description": "presigned GET on the public storage endpoint"})
    expires_at = fields.DateTime()
    version = fields.Integer()
    filename = fields.String()
    media_type = fields.String()


class DownloadRecordSchema(Schema):
    version = fields.Integer()
    user_id = fields.UUID()
    at = fields.DateTime()
    expires_at = fields.DateTime()


class DeleteArgs(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class AuditSchema(AuditRecordSchema):
    """The kernel's audit record, with the document it concerns."""

    document_id = fields.UUID(allow_none=True)


class PackageArgs(Strict):
    tenant_id = fields.UUID(metadata={"description": "needed only when you read several tenants"})
    school_id = fields.UUID()


class MissingSchema(Schema):
    code = fields.String()
    detail = fields.String()
    detail_lv = fields.String()
    document_id = fields.UUID()
    student_id = fields.UUID()
    plan_id = fields.UUID()
    category = fields.String()


class PackageSchema(Schema):
    tenant_id = fields.UUID()
    school_id = fields.UUID(allow_none=True)
    month = Month()
    documents = fields.List(fields.Nested(DocumentSchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    claimed_total = fields.Decimal(places=2, as_string=True)
    accepted_total = fields.Decimal(places=2, as_string=True)
    missing = fields.List(fields.Nested(MissingSchema))
    complete = fields.Boolean()
