"""Plans' Celery handlers: thin wrappers around the read-model updates and the applications put on file."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.common.runtime import ServiceRuntime

from . import applications, readmodels

MIRROR = "A read model of another service's record; the change is audited where it is made."
# what each handler writes to the audit (or why nothing); a test holds every consumed task to this
AUDIT: dict[str, tuple[str, ...] | str] = {
    "plans.sync_tenant": MIRROR,
    "plans.sync_user": MIRROR,
    "plans.sync_programme_settings": MIRROR,
    "plans.plan_paid": "Finance's paid-so-far for a plan, a read model; the claims it sums are audited in finance.",
    "plans.record_student_event": "A timeline entry reported by another service: the timeline is itself the record.",
    "plans.register_application": ("plan.application_recorded", "plan.application_refused"),
}


def register(runtime: ServiceRuntime) -> None:
    handlers = {
        "plans.sync_tenant": readmodels.sync_tenant,
        "plans.sync_user": readmodels.sync_user,
        "plans.sync_programme_settings": readmodels.sync_programme_settings,
        "plans.plan_paid": readmodels.plan_paid,
        "plans.record_student_event": readmodels.record_student_event,
    }
    for name, update in handlers.items():

        def handle(session: Session, payload: dict[str, Any], meta: dict[str, Any], update: Any = update) -> None:
            update(session, payload)

        runtime.consumers.handler(name)(handle)

    @runtime.consumers.handler("plans.register_application")
    def register_application(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        applications.register_application(session, runtime.outbox, payload)
