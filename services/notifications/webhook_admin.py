"""Who manages a tenant's webhooks, and their life: create (secret shown once, kept encrypted), change,
rotate, delete.

The tenant's coordinators manage them: its municipality coordinators, or for a vocational school (its
own tenant) its school coordinators; platform admins everywhere. Someone with other roles in the
tenant is refused (403); someone with none there does not see it (404).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.common import audit
from services.common.auth import MUNICIPALITY_COORDINATOR, SCHOOL_COORDINATOR, Principal
from services.common.errors import ApiError, Forbidden, NotFound

from . import sealed, webhooks
from .models import Delivery, Notification, TenantRM, Webhook


def _invalid_url(problem: webhooks.UrlProblem) -> ApiError:
    return ApiError(422, problem.code, problem.detail, detail_lv=problem.detail_lv, errors={"url": [problem.detail]})


def can_manage(session: Session, principal: Principal, tenant_id: uuid.UUID) -> bool:
    if principal.is_platform_admin:
        return True
    for g in principal.grants:
        if g.tenant_id != str(tenant_id):
            continue
        if g.role == MUNICIPALITY_COORDINATOR:
            return True
        if g.role == SCHOOL_COORDINATOR:
            tenant = session.get(TenantRM, tenant_id)
            if tenant is not None and tenant.kind == "vocational_school":
                return True
    return False


def ensure_manager(session: Session, principal: Principal, tenant_id: uuid.UUID) -> None:
    if can_manage(session, principal, tenant_id):
        return
    if str(tenant_id) in principal.tenant_ids():
        raise Forbidden("Only the tenant's coordinators manage its webhooks.")
    raise NotFound("tenant")


def _tenant_of(principal: Principal, tenant_id: uuid.UUID | None) -> uuid.UUID:
    if tenant_id is not None:
        return tenant_id
    if principal.tenant_id:
        return uuid.UUID(principal.tenant_id)
    raise ApiError(
        422,
        "invalid_input",
        "Say which tenant the webhook is for.",
        detail_lv="Norādiet, kuras pašvaldības vai skolas tīmekļa āķis tas ir.",
        errors={"tenant_id": ["Required for users of no tenant."]},
    )


def shown_once(hook: Webhook, secret: str) -> dict[str, Any]:
    """The webhook as the answer that made its secret shows it: the secret in clear, this once."""
    shown = {c.key: getattr(hook, c.key) for c in Webhook.__table__.columns if c.key != "secret_encrypted"}
    return {**shown, "secret": secret}


def create(
    session: Session, principal: Principal, data: dict[str, Any], allowed_networks: tuple[str, ...], key: str
) -> dict[str, Any]:
    """A new webhook; its secret is kept encrypted under `key` and shown in clear only in this answer."""
    tenant_id = _tenant_of(principal, data.get("tenant_id"))
    ensure_manager(session, principal, tenant_id)
    try:
        url = webhooks.check_url(data["url"], allowed_networks)
    except webhooks.UrlProblem as problem:
        raise _invalid_url(problem) from problem
    secret = webhooks.new_secret()
    hook = Webhook(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        url=url,
        secret_encrypted=sealed.seal(key, secret),
        kinds=sorted(set(data.get("kinds") or [])),
        description=data.get("description", ""),
        active=True,
        created_by=uuid.UUID(principal.user_id),
    )
    session.add(hook)
    session.flush()
    _audit(session, principal, "webhook.created", hook, url=_origin(hook.url), kinds=hook.kinds)
    return shown_once(hook, secret)


def _audit(session: Session, principal: Principal, action: str, hook: Webhook, **details: Any) -> None:
    audit.record(session, principal, action, "webhook", hook.id, tenant_id=hook.tenant_id, **details)


def _origin(url: str) -> str:
    """Where a webhook points, without its path or query (they may carry a token of the receiver)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def get(session: Session, principal: Principal, webhook_id: uuid.UUID) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    # another tenant's webhook answers as a missing one, word for word: the id tells nothing
    if hook is None or not (
        str(hook.tenant_id) in principal.tenant_ids() or can_manage(session, principal, hook.tenant_id)
    ):
        raise NotFound("webhook")
    ensure_manager(session, principal, hook.tenant_id)
    return hook


def change(
    session: Session,
    principal: Principal,
    webhook_id: uuid.UUID,
    data: dict[str, Any],
    allowed_networks: tuple[str, ...],
) -> Webhook:
    hook = get(session, principal, webhook_id)
    if "url" in data:
        try:
            hook.url = webhooks.check_url(data["url"], allowed_networks)
        except webhooks.UrlProblem as problem:
            raise _invalid_url(problem) from problem
    if "kinds" in data:
        hook.kinds = sorted(set(data["kinds"]))
    for key in ("description", "active"):
        if key in data:
            setattr(hook, key, data[key])
    session.flush()
    _audit(session, principal, "webhook.changed", hook, fields=sorted(data), url=_origin(hook.url), active=hook.active)
    return hook


def rotate_secret(session: Session, principal: Principal, webhook_id: uuid.UUID, key: str) -> dict[str, Any]:
    """Sign with a new secret from now on; like at creation, only this answer shows it."""
    hook = get(session, principal, webhook_id)
    secret = webhooks.new_secret()
    hook.secret_encrypted = sealed.seal(key, secret)
    session.flush()
    _audit(session, principal, "webhook.secret_rotated", hook)
    return shown_once(hook, secret)


def delete(session: Session, principal: Principal, webhook_id: uuid.UUID) -> None:
    hook = get(session, principal, webhook_id)
    _audit(session, principal, "webhook.deleted", hook, url=_origin(hook.url))
    session.delete(hook)  # its delivery rows stay, for the admins' log; pending ones are dropped


def list_query(session: Session, principal: Principal, tenant_id: uuid.UUID | None) -> Select[Any]:
    query = select(Webhook).order_by(Webhook.created_at.desc(), Webhook.id)
    if tenant_id is not None:
        ensure_manager(session, principal, tenant_id)
        return query.where(Webhook.tenant_id == tenant_id)
    if principal.is_platform_admin:
        return query
    managed = [uuid.UUID(t) for t in principal.tenant_ids() if can_manage(session, principal, uuid.UUID(t))]
    return query.where(Webhook.tenant_id.in_(managed))


def deliveries_query(session: Session, principal: Principal, webhook_id: uuid.UUID) -> Select[Any]:
    """The webhook's delivery log, newest first."""
    get(session, principal, webhook_id)
    return deliveries_select().where(Delivery.webhook_id == webhook_id)


def deliveries_select() -> Select[Any]:
    cols = [c for c in Delivery.__table__.c]
    return (
        select(*cols, Notification.kind)
        .join(Notification, Notification.id == Delivery.notification_id)
        .order_by(Delivery.created_at.desc(), Delivery.id)
    )
