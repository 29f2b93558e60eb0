"""Finance's Celery handlers: thin wrappers around the domain functions."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.orm import Session

from services.common import audit

from . import attestations, budgets, checks, readmodels, settings_changes, statements
from .runtime import FinanceRuntime
from .staging import StorageUnavailable

log = structlog.get_logger(__name__)


# what each handler writes to the audit (or why nothing); a test holds every consumed task to this
AUDIT: dict[str, tuple[str, ...] | str] = {
    "finance.sync_tenant": "A read model of identity's tenant; the change is audited in identity.",
    "finance.sync_plan": ("claim.checked",),  # a plan's new state re-checks its claims; its change is plans'
    "finance.consultation_delivered": "A read model of a consultation plans recorded (and audited).",
    "finance.check_expense_document": ("claim.checked",),
    "finance.register_attestation": ("attestation.registered", "claim.checked"),
    "finance.recheck_claims": ("claim.checked",),
    "finance.run_daily": ("reservations.released", "statement.built"),
}


def register(runtime: FinanceRuntime) -> None:
    outbox = runtime.outbox
    simple = {
        "finance.sync_tenant": readmodels.sync_tenant,
        "finance.sync_plan": readmodels.sync_plan,
        "finance.consultation_delivered": readmodels.consultation_delivered,
        "finance.check_expense_document": checks.receive_expense,
        "finance.register_attestation": attestations.register,
    }
    for name, fn in simple.items():

        def handle(session: Session, payload: dict[str, Any], meta: dict[str, Any], fn: Any = fn) -> None:
            fn(session, outbox, payload)

        runtime.consumers.handler(name)(handle)

    @runtime.consumers.handler("finance.recheck_claims")
    def recheck_claims(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        settings_changes.recheck_claims(session, outbox, payload, batch=runtime.settings.recheck_batch)

    @runtime.consumers.handler("finance.run_daily")
    def run_daily(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        daily(session, runtime)


def daily(session: Session, runtime: FinanceRuntime) -> None:
    """Publish settings that came into force, release ended semesters' reservations, build due statements."""
    settings_changes.publish_in_force(session, runtime.outbox)
    released = budgets.release_ended(session)
    if released:
        today = budgets.today()
        audit.record(session, None, "reservations.released", "semester_end", today, tenant_id=None, count=released)
    try:
        with session.begin_nested():
            built = statements.scheduled(session, runtime.outbox, runtime.staging)
    except StorageUnavailable:  # the next hourly round tries again; no dead letter for an outage
        log.warning("statements_deferred_storage_unavailable")
        built = 0
    log.info("finance_daily", released=released, statements=built)
