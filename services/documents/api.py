"""Documents' HTTP API: upload (multipart, streamed), list, read, download links, deletion, monthly packages."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from services.common import audit
from services.common.audit import audited
from services.common.auth import current_principal, require_auth, require_roles
from services.common.db import utcnow
from services.common.errors import ApiError, NotFound
from services.common.months import MONTH_ERROR, MONTH_PATTERN, parse_month
from services.common.pagination import paginate
from services.common.web import accepts_body_up_to

from . import access, filecheck, packages, retention, uploads
from .kinds import UPLOADERS
from .models import AuditEvent, Document, DocumentVersion, Download, StatusChange
from .runtime import DocumentsRuntime
from .schemas import (
    AuditSchema,
    DeleteArgs,
    DocumentDetailSchema,
    DocumentListArgs,
    DocumentPage,
    DownloadArgs,
    DownloadLinkSchema,
    DownloadRecordSchema,
    PackageArgs,
    PackageSchema,
    StatusChangeSchema,
    UploadForm,
    UploadHeaders,
    VersionForm,
    VersionSchema,
)
from .settings import DocumentsSettings

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class MultipartParser(FlaskParser):
    """Reads form fields and files of a multipart body together, so one schema describes the upload."""

    __location_map__ = dict(multipart="load_multipart", **FlaskParser.__location_map__)

    def load_multipart(self, req: Any, schema: Any) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class DocumentsBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }


documents_blp = DocumentsBlueprint(
    "documents",
    __name__,
    url_prefix="/documents",
    description="Evidence files: upload, versions, review status, downloads.",
)
packages_blp = DocumentsBlueprint(
    "packages",
    __name__,
    url_prefix="/packages",
    description="Monthly expense packages: documents, status, what is missing.",
)


def rt() -> DocumentsRuntime:
    return current_app.extensions["runtime"]


def settings() -> DocumentsSettings:
    return current_app.extensions["settings"]


# room for the form fields and multipart framing around the file itself
FORM_OVERHEAD = 256 * 1024


def _upload_limit() -> int:
    return settings().max_upload_bytes + FORM_OVERHEAD


def _file_too_large(_limit: int) -> ApiError:
    """413 with the file's own limit: the body is over it with any form around it, so it is not read."""
    refused = filecheck.too_large(settings().max_upload_bytes)
    refused.status = 413
    return refused


uploads_fit = accepts_body_up_to(_upload_limit, _file_too_large)


def _store(form: dict[str, Any], headers: dict[str, Any], **target: Any) -> Any:
    """Store the upload and answer the document itself, as `GET /documents/{id}` shows it."""
    upload = form.pop("file")
    runtime = rt()
    result = uploads.store_upload(
        runtime.db,
        runtime.storage,
        runtime.outbox,
        settings(),
        principal=current_principal(),
        stream=upload.stream,
        filename=upload.filename,
        metadata=form,
        idempotency_key=headers.get("idempotency_key"),
        **target,
    )
    if result.pop("replayed", False):
        audit.unchanged()  # the first request's upload answered again (its record, if it finished it now)
        return result["document"], 201, {"Idempotent-Replayed": "true"}
    return result["document"]


REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when the answer is an earlier request's upload with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
UPLOAD_ANSWERS = {
    409: "Idempotency-Key: the first upload with it is still in progress (Retry-After)",
    422: "Refused file or metadata, or an Idempotency-Key used for another upload; nothing stored",
    503: "Storage or database unreachable: the file may not have been stored, and sending it again is safe "
    "(Retry-After)",
}


@documents_blp.route("")
class Documents(MethodView):
    @require_auth
    @documents_blp.arguments(DocumentListArgs, location="query")
    @documents_blp.response(200, DocumentPage)
    @documents_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List the documents you may read (filter by kind, status, tenant, school, student, plan, month)."""
        query = access.scoped_filters(select(Document), current_principal())
        for name in ("kind", "status", "tenant_id", "school_id", "student_id", "plan_id", "month"):
            if args.get(name) is not None:
                query = query.where(getattr(Document, name) == args[name])
        query = query.order_by(Document.created_at.desc(), Document.id)
        with rt().db.transaction() as session:
            return paginate(session, query, args["page"], args["page_size"])

    @uploads_fit
    @require_roles(*UPLOADERS)
    @audited("document.uploaded")
    @documents_blp.arguments(UploadForm, location="multipart")
    @documents_blp.arguments(UploadHeaders, location="headers")
    @documents_blp.response(201, DocumentDetailSchema, headers=REPLAYED)
    @documents_blp.alt_response(409, description=UPLOAD_ANSWERS[409])
    @documents_blp.alt_response(422, description=UPLOAD_ANSWERS[422])
    @documents_blp.alt_response(503, description=UPLOAD_ANSWERS[503])
    @documents_blp.doc(security=BEARER)
    def post(self, form: dict[str, Any], headers: dict[str, Any]) -> Any:
        """Upload a document with its metadata; answers at once with the document, status `received`."""
        return _store(
            form,
            headers,
            kind=form.pop("kind"),
            tenant_id=form.pop("tenant_id", None),
            school_id=form.pop("school_id", None),
        )


@documents_blp.route("/<uuid:document_id>")
class DocumentById(MethodView):
    @require_auth
    @documents_blp.response(200, DocumentDetailSchema)
    @documents_blp.doc(security=BEARER)
    def get(self, document_id: uuid.UUID) -> Any:
        """Read a document with its versions and its review history."""
        with rt().db.transaction() as session:
            return access.visible_document(session, current_principal(), document_id)

    @require_auth
    @audited("document.deleted")
    @documents_blp.arguments(DeleteArgs, location="query")
    @documents_blp.response(200, AuditSchema)
    @documents_blp.alt_response(409, description="Retention has not ended")
    @documents_blp.doc(security=BEARER)
    def delete(self, args: dict[str, Any], document_id: uuid.UUID) -> Any:
        """Delete a document whose retention has ended: its bytes go, the record and an audit entry stay."""
        with rt().db.transaction() as session:
            return retention.delete_document(session, rt().storage, current_principal(), document_id, args["reason"])


@documents_blp.route("/<uuid:document_id>/versions")
class Versions(MethodView):
    @require_auth
    @documents_blp.response(200, VersionSchema(many=True))
    @documents_blp.doc(security=BEARER)
    def get(self, document_id: uuid.UUID) -> Any:
        """List a document's stored versions, oldest first; none is ever overwritten."""
        with rt().db.transaction() as session:
            doc = access.visible_document(session, current_principal(), document_id)
            return doc.stored_versions

    @uploads_fit
    @require_roles(*UPLOADERS)
    @audited("document.version_added")
    @documents_blp.arguments(VersionForm, location="multipart")
    @documents_blp.arguments(UploadHeaders, location="headers")
    @documents_blp.response(201, DocumentDetailSchema, headers=REPLAYED)
    @documents_blp.alt_response(409, description=UPLOAD_ANSWERS[409])
    @documents_blp.alt_response(422, description=UPLOAD_ANSWERS[422])
    @documents_blp.alt_response(503, description=UPLOAD_ANSWERS[503])
    @documents_blp.doc(security=BEARER)
    def post(self, form: dict[str, Any], headers: dict[str, Any], document_id: uuid.UUID) -> Any:
        """Upload a new version (a fix, a better scan); metadata given here replaces the document's; answers the
        document with the new version current."""
        return _store(form, headers, document_id=document_id)


@documents_blp.route("/<uuid:document_id>/history")
class History(MethodView):
    @require_auth
    @documents_blp.response(200, StatusChangeSchema(many=True))
    @documents_blp.doc(security=BEARER)
    def get(self, document_id: uuid.UUID) -> Any:
        """The review history: each upload and each verdict of finance, with its reasons."""
        with rt().db.transaction() as session:
            doc = access.visible_document(session, current_principal(), document_id)
            return list(
                session.execute(
                    select(StatusChange).where(StatusChange.document_id == doc.id).order_by(StatusChange.id)
                ).scalars()
            )


@documents_blp.route("/<uuid:document_id>/download")
class DownloadLink(MethodView):
    @require_auth
    @audited("document.downloaded")
    @documents_blp.arguments(DownloadArgs, location="query")
    @documents_blp.response(200, DownloadLinkSchema)
    @documents_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], document_id: uuid.UUID) -> Any:
        """A short-lived link to the bytes under the original file name; every link given is recorded."""
        principal = current_principal()
        expires = timedelta(minutes=settings().presign_minutes)
        with rt().db.transaction() as session:
            doc = access.visible_document(session, principal, document_id)
            number = args.get("version") or doc.current_version
            version = session.execute(
                select(DocumentVersion).where(
                    DocumentVersion.document_id == doc.id,
                    DocumentVersion.number == number,
                    DocumentVersion.state == "stored",
                )
            ).scalar_one_or_none()
            if version is None:
                raise NotFound("version")
            url = rt().storage.presigned_get(
                version.object_key, filename=version.filename, media_type=version.media_type, expires=expires
            )
            expires_at = utcnow() + expires
            session.add(
                Download(
                    document_id=doc.id,
                    tenant_id=doc.tenant_id,
                    version=number,
                    user_id=uuid.UUID(principal.user_id),
                    expires_at=expires_at,
                )
            )
            audit.record(
                session,
                principal,
                "document.downloaded",
                "document",
                doc.id,
                tenant_id=doc.tenant_id,
                version=number,
                kind=doc.kind,
                expires_at=expires_at,
            )
        return {
            "url": url,
            "expires_at": expires_at,
            "version": number,
            "filename": version.filename,
            "media_type": version.media_type,
        }


@documents_blp.route("/<uuid:document_id>/downloads")
class Downloads(MethodView):
    @require_auth
    @documents_blp.response(200, DownloadRecordSchema(many=True))
    @documents_blp.doc(security=BEARER)
    def get(self, document_id: uuid.UUID) -> Any:
        """Who was given a download link, when, for which version."""
        with rt().db.transaction() as session:
            doc = access.visible_document(session, current_principal(), document_id)
            return list(
                session.execute(select(Download).where(Download.document_id == doc.id).order_by(Download.id)).scalars()
            )


@documents_blp.route("/<uuid:document_id>/audit")
class Audit(MethodView):
    @require_auth
    @documents_blp.response(200, AuditSchema(many=True))
    @documents_blp.doc(security=BEARER)
    def get(self, document_id: uuid.UUID) -> Any:
        """The audit entries of a document, deleted ones included (platform admins and tenant readers)."""
        principal = current_principal()
        with rt().db.transaction() as session:
            doc = (
                session.execute(select(Document).where(Document.id == document_id, access.readable(principal)))
                .scalars()
                .first()
            )
            if doc is None:
                raise NotFound("document")
            return list(
                session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.target_type == "document", AuditEvent.target_id == str(doc.id))
                    .order_by(AuditEvent.id)
                ).scalars()
            )


@packages_blp.route(
    "/<month>",
    parameters=[{"in": "path", "name": "month", "schema": {"type": "string", "pattern": MONTH_PATTERN}}],
)
class MonthlyPackage(MethodView):
    @require_auth
    @packages_blp.arguments(PackageArgs, location="query")
    @packages_blp.response(200, PackageSchema)
    @packages_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any], month: str) -> Any:
        """A tenant's (or a school's) expense package for a month (`YYYY-MM`): documents, status, what is missing."""
        try:
            first = parse_month(month)
        except ValueError:
            raise access.invalid(month=MONTH_ERROR) from None
        principal = current_principal()
        tenant_id = packages.package_tenant(principal, args.get("tenant_id"))
        with rt().db.transaction() as session:
            return packages.monthly_package(session, principal, tenant_id, first, args.get("school_id"))


BLUEPRINTS = (documents_blp, packages_blp)
