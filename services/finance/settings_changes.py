"""Seeding, changing and publishing programme settings, and re-running the checks a change affects.

Only the platform admin changes settings. Each change is a new revision; the one in force today goes to
plans (rates, cap, categories, semesters) and notifications (calendar, deadline day). Every claim whose
month the change governs is checked again, and its run records which values moved and which outcomes.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import Principal
from services.common.db import utcnow
from services.common.errors import ApiError
from services.common.messaging import Outbox

from . import budgets, checks, programme
from .ledger import serialise
from .models import Claim, Consultation, SettingsRevision
from .readmodels import price
from .rules import day_lv

log = structlog.get_logger(__name__)


def seed(session: Session, outbox: Outbox) -> int:
    """Record the example settings as revision 1 when there are none; publish what is in force. Idempotent."""
    if programme.latest_number(session) == 0:
        session.add(
            SettingsRevision(
                revision=1,
                effective_from=programme.EXAMPLE_EFFECTIVE_FROM,
                data=programme.normalised(programme.EXAMPLE_SETTINGS),
                example_values=True,
                reason="EXAMPLE values: unit-cost rates, caps and deadlines are not in public sources.",
                created_at=utcnow(),
            )
        )
        session.flush()
        audit.record(session, None, "settings.seeded", "settings_revision", 1, tenant_id=None, example_values=True)
        log.info("settings_seeded", revision=1)
    return publish_in_force(session, outbox, force=True)


def publish_in_force(session: Session, outbox: Outbox, *, force: bool = False, on: date | None = None) -> int:
    """Send the revision in force to plans and notifications, unless it was sent already; returns it."""
    prog = programme.in_force(session, on or budgets.today())
    row = session.get(SettingsRevision, prog.revision, with_for_update=True)
    assert row is not None
    if force or row.published_at is None:
        outbox.publish(session, "plans.sync_programme_settings", prog.plans_payload())
        outbox.publish(session, "notifications.sync_calendar", prog.calendar_payload())
        row.published_at = utcnow()
        log.info("settings_published", revision=prog.revision)
    return prog.revision


def change(session: Session, outbox: Outbox, principal: Principal, data: dict[str, Any]) -> SettingsRevision:
    """Record a new revision: the newest values with these changes, in force from `effective_from`."""
    serialise(session, "programme-settings")  # one change at a time
    newest = programme.latest_number(session)
    base = session.get(SettingsRevision, newest)
    if base is None:
        raise ApiError(409, "programme_settings_missing", "Seed the settings first.", detail_lv="Nav iestatījumu.")
    changes = {k: v for k, v in data.items() if k not in ("effective_from", "reason", "example_values")}
    if not changes:
        raise ApiError(
            422,
            "nothing_changed",
            "Name at least one value to change.",
            detail_lv="Norādiet vismaz vienu maināmo vērtību.",
        )
    row = SettingsRevision(
        revision=newest + 1,
        effective_from=data["effective_from"],
        data=programme.merged(base.data, changes),
        example_values=data.get("example_values", base.example_values),
        reason=data["reason"],
        created_by=uuid.UUID(principal.user_id),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        "settings.changed",
        "settings_revision",
        row.revision,
        tenant_id=None,
        effective_from=row.effective_from,
        fields=sorted(changes),
        example_values=row.example_values,
    )
    if row.effective_from <= budgets.today():
        publish_in_force(session, outbox)
    outbox.publish(session, "finance.recheck_claims", {"revision": row.revision, "previous_revision": newest})
    log.info("settings_changed", revision=row.revision, effective_from=row.effective_from.isoformat())
    return row


def recheck_claims(session: Session, outbox: Outbox, p: dict[str, Any], batch: int = 500) -> int:
    """Re-check one batch of the claims a revision may govern; queue the next batch. Returns how many ran."""
    new = programme.revision(session, p["revision"])
    if new is None:
        return 0
    start = new.effective_from.replace(day=1)
    query = select(Claim).where(Claim.superseded.is_(False), Claim.month >= start).order_by(Claim.id).limit(batch)
    if p.get("after"):
        query = query.where(Claim.id > p["after"])
    else:
        reprice(session, outbox, new.effective_from)
    claims = list(session.execute(query).scalars())
    explained: dict[tuple[int | None, int], tuple[tuple[str, str], list[dict[str, Any]]]] = {}
    ran = 0
    for claim in claims:
        now = programme.in_force(session, claim.month)
        if now.revision == claim.settings_revision:
            continue
        pair = (claim.settings_revision, now.revision)
        if pair not in explained:
            explained[pair] = explain(session, claim.settings_revision, now)
        reason, diffs = explained[pair]
        checks.recheck(session, outbox, [claim], "settings", reason=reason, settings_changes=diffs)
        ran += 1
    if len(claims) == batch:
        outbox.publish(session, "finance.recheck_claims", {**_plain(p), "after": str(claims[-1].id)})
    log.info("claims_rechecked", revision=p["revision"], ran=ran, looked_at=len(claims))
    return ran


def _plain(p: dict[str, Any]) -> dict[str, Any]:
    return {"revision": p["revision"], "previous_revision": p.get("previous_revision")}


def explain(session: Session, old_number: int | None, new: programme.Programme) -> tuple[tuple[str, str], list[dict]]:
    old = programme.revision(session, old_number) if old_number else None
    diffs = [
        {"setting": d["key"], "from": d["from"], "to": d["to"]}
        for d in programme.differences(old.data if old else {}, new.data)
    ]
    listed = "; ".join(f"{d['setting']}: {d['from']} → {d['to']}" for d in diffs[:12]) or "—"
    since = day_lv(new.effective_from)
    lv = f"Programmas iestatījumu redakcija {new.revision} (no {since}) aizstāja redakciju {old_number}: {listed}."
    en = f"Programme settings revision {new.revision} (from {since}) replaced revision {old_number}: {listed}."
    return (lv, en), diffs


def reprice(session: Session, outbox: Outbox, since: date) -> None:
    """Consultations held on or after `since` are owed at the rate now in force on their day."""
    plans = set()
    for row in session.execute(select(Consultation).where(Consultation.held_on >= since)).scalars():
        before = row.amount
        price(session, row)
        if row.amount != before:
            plans.add(row.plan_id)
    session.flush()
    for plan_id in plans:
        budgets.money_changed(session, outbox, plan_id)
