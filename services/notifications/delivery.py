"""Carry out one delivery: build the e-mail or the webhook body from what was recorded, send it, and
record the outcome. Passing trouble is recorded and raised as `Unavailable` (the consumer retries with
backoff); a final refusal is recorded as failed and raised (the consumer dead-letters it)."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from services.common import account_links
from services.common.db import Database, utcnow

from . import catalogue, mailer, render, sealed, webhooks
from .catalogue import ACCOUNT_KINDS, DIGEST
from .mailer import Refused, Unavailable
from .models import FAILED, RETRYING, SENT, Delivery, Notification, Recipient, Webhook
from .settings import NotificationsSettings

DONE = (SENT, "digested")
WEBHOOK_OMITS = ("comment", "tenant_name", "school_name")  # free text and names stay out of integrations


def email_for(session: Session, settings: NotificationsSettings, d: Delivery) -> EmailMessage:
    """The e-mail of a delivery: one notification, or a digest of several, in the reader's language first."""
    n = session.get(Notification, d.notification_id)
    assert n is not None
    person = session.get(Recipient, d.user_id) if d.user_id else None
    language = person.language if person else "lv"
    if n.kind in ACCOUNT_KINDS:
        # the link is made here, from the link's id and the shared secret: no token is stored or queued
        language = n.data["language"]
        url = account_links.link_url(
            settings.link_base_url, settings.account_link_secret, n.data["link_id"], n.data["purpose"]
        )
        entries = [render.Entry(n.kind, render.texts(n.kind, n.data), url)]
    elif n.kind == DIGEST:
        entries = [
            render.Entry(i["kind"], render.Texts(i["title_lv"], i["title_en"], i["body_lv"], i["body_en"]), i["link"])
            for i in n.data["entries"]
        ]
    else:
        link = catalogue.link(settings.link_base_url, n.ref_type, n.ref_id, n.data)
        entries = [render.Entry(n.kind, render.texts(n.kind, n.data), link)]
    headers = {"X-PuMPuRS-Kind": n.kind, "X-PuMPuRS-Delivery": str(d.id)}
    if n.ref_type and n.ref_id:
        headers["X-PuMPuRS-Ref"] = f"{n.ref_type}:{n.ref_id}"
    return render.email_message(
        mail_from=settings.mail_from,
        to=d.address,
        language=language,
        entries=entries,
        digest=n.kind == DIGEST,
        headers=headers,
        settings_url=f"{settings.link_base_url}/preferences",  # the portal's page (links.py)
    )


def webhook_body(n: Notification) -> dict[str, Any]:
    """What an integrator receives: the kind, the tenant, the reference and the facts (ids, no free text)."""
    return {
        "id": str(n.id),
        "kind": n.kind,
        "created_at": n.created_at.isoformat(),
        "tenant_id": str(n.tenant_id) if n.tenant_id else None,
        "school_id": str(n.school_id) if n.school_id else None,
        "ref": {"type": n.ref_type, "id": n.ref_id},
        "data": {k: _wire(k, v) for k, v in n.data.items() if k not in WEBHOOK_OMITS},
    }


def _wire(key: str, value: Any) -> Any:
    """A month as every API writes it (`YYYY-MM`), whatever form the message that caused it carried."""
    return value[:7] if key == "month" and isinstance(value, str) else value


def deliver_email(session: Session, db: Database, settings: NotificationsSettings, delivery_id: uuid.UUID) -> str:
    d = session.get(Delivery, delivery_id)
    if d is None or d.status in DONE:
        return "skipped"  # already sent (a redelivered task) or gone
    person = session.get(Recipient, d.user_id) if d.user_id else None
    if person is not None and not person.active:
        d.status, d.last_error = FAILED, "the recipient was deactivated before it could be sent"
        return "dropped"
    message = email_for(session, settings, d)
    try:
        mailer.send(settings, message)
    except (Unavailable, Refused) as exc:
        record_failure(db, d.id, exc)
        raise
    _sent(d)
    return "sent"


def deliver_webhook(session: Session, db: Database, settings: NotificationsSettings, delivery_id: uuid.UUID) -> str:
    d = session.get(Delivery, delivery_id)
    if d is None or d.status in DONE:
        return "skipped"
    hook = session.get(Webhook, d.webhook_id) if d.webhook_id else None
    n = session.get(Notification, d.notification_id)
    if hook is None or not hook.active or n is None:
        d.status, d.last_error = FAILED, "the webhook was removed or switched off"
        return "dropped"
    try:
        secret = sealed.open_sealed(settings.webhook_key, hook.secret_encrypted)
    except sealed.SealError as exc:
        # a key to fix, not an endpoint to wait for: dead-lettered, and replayable once it is fixed
        refused = Refused(str(exc))
        record_failure(db, d.id, refused)
        raise refused from exc
    try:
        # checked again at send time (the host's addresses may have changed since the URL was accepted),
        # and the POST goes to the addresses checked, not to whatever the name resolves to next
        status = webhooks.post(
            hook.url,
            secret,
            webhook_body(n),
            event=n.kind,
            delivery_id=str(d.id),
            timeout=settings.webhook_timeout,
            allowed_networks=settings.webhook_allowed_networks,
        )
    except webhooks.UrlProblem as exc:
        # a name that does not resolve now may again later (DNS away); a refused address is final
        problem: Exception = (Unavailable if exc.code == "webhook_url_unresolvable" else Refused)(
            f"{exc.code}: {exc.detail}"
        )
        record_failure(db, d.id, problem)
        raise problem from exc
    except (Unavailable, Refused) as exc:
        record_failure(db, d.id, exc)
        raise
    d.response_status = status
    _sent(d)
    return "sent"


def _sent(d: Delivery) -> None:
    now = utcnow()
    d.status, d.sent_at, d.last_attempt_at, d.attempts = SENT, now, now, d.attempts + 1


def record_failure(db: Database, delivery_id: uuid.UUID, exc: Exception) -> None:
    """Count a failed attempt in its own transaction: the task's own is rolled back by the retry."""
    final = isinstance(exc, Refused)
    with db.session() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status != SENT)
            .values(
                attempts=Delivery.attempts + 1,
                last_attempt_at=utcnow(),
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                response_status=getattr(exc, "status", None),
                status=FAILED if final else RETRYING,
            )
        )
