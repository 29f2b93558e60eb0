"""Each person's choice per kind of notification: channels (e-mail, inbox) and immediate or daily digest."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import ApiError

from .catalogue import KINDS
from .models import Preference


@dataclass(frozen=True)
class Choice:
    kind: str
    email: bool = True
    inbox: bool = True
    digest: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "email": self.email,
            "inbox": self.inbox,
            "mode": "digest" if self.digest else "immediate",
        }


def for_users(session: Session, user_ids: Iterable[uuid.UUID], kind: str) -> dict[uuid.UUID, Choice]:
    """Every given user's choice for a kind; the default (e-mail and inbox, at once) when none is set."""
    ids = list(user_ids)
    found = {
        p.user_id: Choice(kind, p.email, p.inbox, p.digest)
        for p in session.execute(
            select(Preference).where(Preference.user_id.in_(ids), Preference.kind == kind)
        ).scalars()
    }
    return {uid: found.get(uid, Choice(kind)) for uid in ids}


def list_for(session: Session, user_id: uuid.UUID) -> list[dict[str, object]]:
    """A person's choices for every kind, defaults filled in."""
    rows = {p.kind: p for p in session.execute(select(Preference).where(Preference.user_id == user_id)).scalars()}
    out = []
    for kind in KINDS:
        p = rows.get(kind)
        choice = Choice(kind, p.email, p.inbox, p.digest) if p else Choice(kind)
        out.append(choice.as_dict())
    return out


def set_choice(
    session: Session,
    user_id: uuid.UUID,
    kind: str,
    *,
    email: bool,
    inbox: bool,
    mode: str,
    principal: Principal | None = None,
) -> dict[str, object]:
    """Record a choice; at least one channel stays on, so nothing a person must act on is lost silently."""
    if kind not in KINDS:
        raise ApiError(
            404, "unknown_kind", f"There is no notification kind {kind!r}.", detail_lv="Šāda paziņojumu veida nav."
        )
    if not (email or inbox):
        raise ApiError(
            422,
            "no_channel",
            "Keep at least one channel (e-mail or inbox) on.",
            detail_lv="Atstājiet ieslēgtu vismaz vienu kanālu (e-pastu vai iesūtni).",
            errors={"email": ["Keep e-mail or inbox on."], "inbox": ["Keep e-mail or inbox on."]},
        )
    digest = mode == "digest"
    values = {"email": email, "inbox": inbox, "digest": digest, "updated_at": utcnow()}
    session.execute(
        pg_insert(Preference)
        .values(user_id=user_id, kind=kind, **values)
        .on_conflict_do_update(index_elements=["user_id", "kind"], set_=values)
    )
    tenant = principal.tenant_id if principal is not None else None
    audit.record(
        session,
        principal,
        "preference.set",
        "user",
        user_id,
        tenant_id=tenant,
        actor_id=user_id,
        kind=kind,
        email=email,
        inbox=inbox,
        mode=mode,
    )
    return Choice(kind, email, inbox, digest).as_dict()
