"""Plans' Celery handlers: thin wrappers around the read-model updates."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.common.runtime import ServiceRuntime

from . import readmodels


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
