"""Setting a block aside: one finance person asks with a reason, a second, different one confirms; both are
recorded, and only then do the claim's checks run again with those rules set aside."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import Conflict
from services.common.messaging import Outbox

from . import checks, rules
from .access import OVERRIDERS, ensure_readable, require_acts_for
from .models import ACCEPTED, Claim, Override

PENDING, CONFIRMED = "pending", "confirmed"


def claim_for_override(session: Session, principal: Principal, claim_id: uuid.UUID) -> Claim:
    claim = session.execute(select(Claim).where(Claim.id == claim_id).with_for_update()).scalar_one_or_none()
    ensure_readable(session, principal, claim, "claim")
    assert claim is not None
    require_acts_for(
        principal,
        claim.tenant_id,
        claim.school_id,
        *OVERRIDERS,
        detail="Only an accountant of the institution or the platform admin overrides a check.",
    )
    return claim


def request(session: Session, principal: Principal, claim_id: uuid.UUID, reason: str) -> Override:
    """Ask to set aside the blocks of a claim's current run; nothing changes until a second person confirms."""
    claim = claim_for_override(session, principal, claim_id)
    if claim.superseded or claim.status == ACCEPTED:
        raise Conflict(
            "nothing_to_override",
            "Only a claim that needs fixing or was rejected, in the document's current version, can be overridden.",
            "Atcelt var tikai pašreizējās versijas pieprasījumu, kas jālabo vai ir noraidīts.",
        )
    blocks = [
        r.rule_id for r in checks.current_results(session, claim) if r.outcome == rules.BLOCK and not r.overridden
    ]
    pending = session.execute(
        select(Override).where(Override.claim_id == claim.id, Override.state == PENDING)
    ).scalar_one_or_none()
    if pending is not None:
        raise Conflict(
            "override_pending",
            "An override of this claim already waits for confirmation.",
            "Šī pieprasījuma atcelšana jau gaida apstiprinājumu.",
            override_id=str(pending.id),
        )
    override = Override(
        id=uuid.uuid4(),
        claim_id=claim.id,
        tenant_id=claim.tenant_id,
        rules=blocks,
        reason=reason.strip(),
        state=PENDING,
        requested_by=uuid.UUID(principal.user_id),
        requested_at=utcnow(),
    )
    session.add(override)
    session.flush()
    audit.record(
        session, principal, "claim.override_requested", "claim", claim.id, tenant_id=claim.tenant_id, rules=blocks
    )
    return override


def confirm(session: Session, outbox: Outbox, principal: Principal, claim_id: uuid.UUID, note: str | None) -> Override:
    """Confirm a pending override as a second person; the claim is checked again with those rules set aside."""
    claim = claim_for_override(session, principal, claim_id)
    override = session.execute(
        select(Override).where(Override.claim_id == claim.id, Override.state == PENDING).with_for_update()
    ).scalar_one_or_none()
    if override is None:
        raise Conflict(
            "no_pending_override",
            "No override of this claim waits for confirmation.",
            "Nav atcelšanas, kas gaidītu apstiprinājumu.",
        )
    if str(override.requested_by) == principal.user_id:
        raise Conflict(
            "second_person_required",
            "An override is confirmed by a second, different person.",
            "Atcelšanu apstiprina cita persona, nevis tā, kas to pieprasīja.",
        )
    override.state, override.confirmed_by, override.confirmed_at = CONFIRMED, uuid.UUID(principal.user_id), utcnow()
    override.confirm_note = (note or "").strip() or None
    session.flush()
    audit.record(
        session,
        principal,
        "claim.override_confirmed",
        "claim",
        claim.id,
        tenant_id=claim.tenant_id,
        override_id=override.id,
        requested_by=override.requested_by,
        rules=override.rules,
    )
    checks.recheck(
        session,
        outbox,
        [claim],
        "override",
        reason=(
            f"Pārbaužu {', '.join(override.rules)} atcelšana apstiprināta otrai personai. Iemesls: {override.reason}",
            f"Override of {', '.join(override.rules)} confirmed by a second person. Reason: {override.reason}",
        ),
    )
    return override
