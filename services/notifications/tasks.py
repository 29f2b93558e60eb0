"""Notifications' Celery handlers: thin wrappers around the read models, triggers, deliveries and jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services.common.db import utcnow
from services.common.runtime import ServiceRuntime

from . import accounts, delivery, digests, readmodels, reminder_jobs, triggers
from .settings import NotificationsSettings

RIGA = ZoneInfo("Europe/Riga")

READ_MODELS = {
    "notifications.sync_tenant": readmodels.sync_tenant,
    "notifications.sync_user": readmodels.sync_user,
    "notifications.sync_calendar": readmodels.sync_calendar,
    "notifications.expense_package_received": readmodels.package_received,
    "notifications.evaluation_written": readmodels.evaluation_written,
}
TRIGGERS = (
    "document_verdict",
    "plan_awaiting_approval",
    "plan_returned",
    "plan_approved",
    "order_registered",
    "statement_ready",
    "message_dead_lettered",
)


MIRROR = "A read model of another service's record; the change is audited where it is made."
NOTICE = (
    "A notification made for the people concerned: its inbox items and deliveries are the record (who was told "
    "what, when); the change it tells of is audited in the service that sent it."
)
SENT = "The delivery row records every attempt, its outcome and time."
# what each handler writes to the audit (or why nothing); a test holds every consumed task to this
AUDIT: dict[str, tuple[str, ...] | str] = {
    **{name: MIRROR for name in READ_MODELS},
    **{f"notifications.{kind}": NOTICE for kind in TRIGGERS},
    "notifications.account_link": "An account mail: its delivery row is the record; identity audits the link.",
    "notifications.deliver_email": SENT,
    "notifications.deliver_webhook": SENT,
    "notifications.send_reminders": "Each reminder is a notification with its own key and deliveries: " + SENT,
    "notifications.send_digests": "Each digest is a delivery of the notifications it gathers: " + SENT,
}


def today_in_riga(now: datetime | None = None) -> Any:
    return (now or utcnow()).astimezone(RIGA).date()


def register(runtime: ServiceRuntime) -> None:
    settings = cast(NotificationsSettings, runtime.settings)

    for name, update in READ_MODELS.items():

        def sync(session: Session, payload: dict[str, Any], meta: dict[str, Any], update: Any = update) -> None:
            update(session, payload)

        runtime.consumers.handler(name)(sync)

    for kind in TRIGGERS:

        def trigger(session: Session, payload: dict[str, Any], meta: dict[str, Any], kind: str = kind) -> None:
            triggers.on_message(
                session, runtime.outbox, settings.link_base_url, kind, payload, meta["message_id"], runtime.tables
            )

        runtime.consumers.handler(f"notifications.{kind}")(trigger)

    @runtime.consumers.handler("notifications.account_link")
    def account_link(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        accounts.on_account_link(session, runtime.outbox, payload)

    @runtime.consumers.handler("notifications.deliver_email")
    def deliver_email(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        delivery.deliver_email(session, runtime.db, settings, uuid.UUID(str(payload["delivery_id"])))

    @runtime.consumers.handler("notifications.deliver_webhook")
    def deliver_webhook(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        delivery.deliver_webhook(session, runtime.db, settings, uuid.UUID(str(payload["delivery_id"])))

    # a delivery has its own retry budget: SMTP or an endpoint may stay away longer than a database blip
    deliver_email.max_retries = settings.delivery_max_retries
    deliver_webhook.max_retries = settings.delivery_max_retries

    @runtime.consumers.handler("notifications.send_reminders")
    def send_reminders(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        reminder_jobs.send_reminders(session, runtime.outbox, settings, today_in_riga())

    @runtime.consumers.handler("notifications.send_digests")
    def send_digests(session: Session, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        digests.send_digests(session, runtime.outbox, settings.link_base_url, settings.digest_hour, utcnow())
