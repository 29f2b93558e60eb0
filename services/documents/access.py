"""Who may upload, read and delete which documents: the one place that turns grants into rules here."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from services.common.auth import (
    MUNICIPALITY_COORDINATOR,
    PLAN_PREPARER,
    PLATFORM_ADMIN,
    SUPPORT_PROVIDER,
    Principal,
)
from services.common.errors import ApiError, Forbidden, NotFound
from services.common.tenancy import tenant_scope

from .kinds import KINDS, READERS
from .models import ACTIVE, Document

# roles that read every document in their scope; the others read what they uploaded themselves
OWN_ONLY = frozenset({PLAN_PREPARER, SUPPORT_PROVIDER})


def with_roles(principal: Principal, roles: frozenset[str]) -> Principal:
    return dataclasses.replace(principal, grants=tuple(g for g in principal.grants if g.role in roles))


def readable(principal: Principal) -> ColumnElement[bool]:
    """Documents this principal may read (a WHERE clause)."""
    full = with_roles(principal, READERS - OWN_ONLY)
    own = with_roles(principal, OWN_ONLY)
    clause = tenant_scope(full, Document.tenant_id, region_col=Document.region, school_col=Document.school_id)
    if own.grants:
        mine = tenant_scope(own, Document.tenant_id, school_col=Document.school_id)
        clause = or_(clause, and_(mine, Document.uploaded_by == uuid.UUID(principal.user_id)))
    return clause


def visible_document(
    session: Session, principal: Principal, document_id: uuid.UUID, *, for_update: bool = False
) -> Document:
    """A document the principal may read, or 404 (another tenant's ids look like missing ones)."""
    query = select(Document).where(Document.id == document_id, Document.state == ACTIVE, readable(principal))
    if for_update:
        query = query.with_for_update()
    doc = session.execute(query).scalars().first()
    if doc is None:
        raise NotFound("document")
    return doc


def invalid(**errors: str) -> ApiError:
    return ApiError(
        422,
        "invalid_input",
        "Some fields are missing or invalid; see `errors`.",
        detail_lv="Daži lauki trūkst vai ir nederīgi; skatiet `errors`.",
        errors={k: [v] for k, v in errors.items()},
    )


def upload_target(
    principal: Principal, kind: str, tenant_id: uuid.UUID | None, school_id: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The tenant and school an upload goes to: given, or the only one the uploader's grants allow."""
    spec = KINDS[kind]
    grants = principal.grants_of(*spec.uploaders)
    if not grants:
        raise Forbidden("Your role does not upload this kind of document.", code="upload_not_allowed")
    if PLATFORM_ADMIN in spec.uploaders and principal.is_platform_admin:
        if tenant_id is None:
            raise invalid(tenant_id="Say which tenant the document belongs to.")
        return tenant_id, school_id
    options: set[tuple[str, str | None]] = set()
    for g in grants:
        if g.tenant_id is None or (tenant_id and str(tenant_id) != g.tenant_id):
            continue  # region-wide grants read, they do not upload
        if g.school_id:
            if school_id is None or str(school_id) == g.school_id:
                options.add((g.tenant_id, g.school_id))
        else:
            options.add((g.tenant_id, str(school_id) if school_id else None))
    if not options:
        raise Forbidden("You cannot upload this kind of document for this tenant or school.", code="upload_not_allowed")
    if len(options) > 1:
        field = "tenant_id" if len({t for t, _ in options}) > 1 else "school_id"
        raise invalid(**{field: "You upload for several; say which."})
    tenant, school = next(iter(options))
    if spec.needs_school and school is None:
        raise invalid(school_id="This kind of document belongs to a school; say which.")
    return uuid.UUID(tenant), uuid.UUID(school) if school else None


def check_can_add_version(principal: Principal, doc: Document) -> None:
    """A new version is uploaded by someone who could have uploaded the document itself."""
    target = upload_target(principal, doc.kind, doc.tenant_id, doc.school_id)
    if target != (doc.tenant_id, doc.school_id):
        raise Forbidden("You cannot upload this kind of document for this tenant or school.", code="upload_not_allowed")


def check_can_delete(principal: Principal, doc: Document) -> None:
    if principal.is_platform_admin:
        return
    for g in principal.grants_of(MUNICIPALITY_COORDINATOR):
        if g.tenant_id == str(doc.tenant_id) and not g.school_id:
            return
    raise Forbidden("Only a platform admin or the municipality coordinator deletes documents.")


def scoped_filters(query: Any, principal: Principal) -> Any:
    return query.where(readable(principal), Document.state == ACTIVE)
