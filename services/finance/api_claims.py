"""Finance API: claims with their check results and history, overrides by two people, attestations."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.common.audit import audited
from services.common.auth import current_principal, require_roles
from services.common.pagination import paginate

from . import overrides, queries
from .access import OVERRIDERS, READERS
from .schemas import (
    AttestationListArgs,
    AttestationPage,
    ClaimDetailSchema,
    ClaimListArgs,
    ClaimPage,
    OverrideConfirmSchema,
    OverrideRequestSchema,
    OverrideSchema,
)
from .web import BEARER, rt

claims_blp = Blueprint(
    "claims",
    __name__,
    url_prefix="/claims",
    description="Claims from expense documents and each rule's result. / Pieprasījumi un pārbaužu rezultāti.",
)
attestations_blp = Blueprint(
    "attestations",
    __name__,
    url_prefix="/attestations",
    description="Municipalities' attestations and what they cover. / Pašvaldību izziņas.",
)


@claims_blp.route("")
class Claims(MethodView):
    @require_roles(*READERS)
    @claims_blp.arguments(ClaimListArgs, location="query")
    @claims_blp.response(200, ClaimPage)
    @claims_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List claims you can see, by tenant, school, plan, student, document, status, month or category."""
        with rt().db.transaction() as session:
            return paginate(session, queries.claims_query(current_principal(), args), args["page"], args["page_size"])


@claims_blp.route("/<uuid:claim_id>")
class ClaimById(MethodView):
    @require_roles(*READERS)
    @claims_blp.response(200, ClaimDetailSchema)
    @claims_blp.doc(security=BEARER)
    def get(self, claim_id: uuid.UUID) -> Any:
        """Read a claim: each rule's current result with its evidence, every run and what changed, overrides."""
        with rt().db.transaction() as session:
            return queries.claim(session, current_principal(), claim_id)


@claims_blp.route("/<uuid:claim_id>/override")
class OverrideRequest(MethodView):
    @require_roles(*OVERRIDERS)
    @audited("claim.override_requested")
    @claims_blp.arguments(OverrideRequestSchema)
    @claims_blp.response(201, OverrideSchema)
    @claims_blp.alt_response(409, description="Nothing to override, or one already waits")
    @claims_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], claim_id: uuid.UUID) -> Any:
        """Ask to set aside a claim's blocks, with a reason; a second person must confirm."""
        with rt().db.transaction() as session:
            return overrides.request(session, current_principal(), claim_id, data["reason"])


@claims_blp.route("/<uuid:claim_id>/override/confirm")
class OverrideConfirm(MethodView):
    @require_roles(*OVERRIDERS)
    @audited("claim.override_confirmed")
    @claims_blp.arguments(OverrideConfirmSchema)
    @claims_blp.response(200, OverrideSchema)
    @claims_blp.alt_response(409, description="`second_person_required` when the requester confirms")
    @claims_blp.doc(security=BEARER)
    def post(self, data: dict[str, Any], claim_id: uuid.UUID) -> Any:
        """Confirm a pending override as a second, different person; the claim is checked again."""
        with rt().db.transaction() as session:
            return overrides.confirm(session, rt().outbox, current_principal(), claim_id, data.get("note"))


@attestations_blp.route("")
class Attestations(MethodView):
    @require_roles(*READERS)
    @attestations_blp.arguments(AttestationListArgs, location="query")
    @attestations_blp.response(200, AttestationPage)
    @attestations_blp.doc(security=BEARER)
    def get(self, args: dict[str, Any]) -> Any:
        """List attestations in force (or every one, with include_replaced)."""
        with rt().db.transaction() as session:
            query = queries.attestations_query(current_principal(), args)
            return paginate(session, query, args["page"], args["page_size"])


BLUEPRINTS = (claims_blp, attestations_blp)
