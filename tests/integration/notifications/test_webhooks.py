"""Tenants' webhooks: managed by the tenant's coordinators, bad URLs refused with codes, payloads signed
(HMAC-SHA256 over timestamp and body) and verifiable by the receiver, retried, logged, dead-lettered."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from services.notifications import delivery
from services.notifications.dispatch import add_delivery
from services.notifications.mailer import Refused, Unavailable
from services.notifications.models import Notification, Webhook
from services.notifications.webhooks import verify
from tests.integration.notifications.conftest import deliveries, send_as, settled, staff_grants
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture()
def hood(cast) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    a = cast.tenant()
    b = cast.tenant(region="latgale")
    v = cast.tenant(kind="vocational_school")
    ga = staff_grants(a)
    cast.person("municipality", a, ga["municipality"])
    cast.person("director", a, ga["director"])
    cast.person("coordinator", a, ga["coordinator"])
    cast.person("preparer", a, ga["preparer"])
    cast.person("other_municipality", b, staff_grants(b)["municipality"])
    cast.person("vocational_coordinator", v, staff_grants(v)["coordinator"])
    return {"a": a, "b": b, "v": v}


def _create(notifs, cast, who: str, url: str, **extra: Any) -> Any:  # type: ignore[no-untyped-def]
    return notifs.post("/webhooks", json={"url": url, **extra}, headers=cast.headers(who))


def test_the_tenants_coordinators_manage_its_webhooks_and_no_one_else(notifs, cast, hood, receiver):
    created = _create(notifs, cast, "municipality", receiver.url, kinds=["plan_returned"], description="Skolvadība")
    assert created.status_code == 201, created.json
    hook = created.json
    assert hook["secret"].startswith("whsec_") and hook["tenant_id"] == hood["a"]["id"] and hook["active"]
    path = f"/webhooks/{hook['id']}"
    read = notifs.get(path, headers=cast.headers("municipality")).json
    assert "secret" not in read and read["kinds"] == ["plan_returned"]
    listed = notifs.get("/webhooks", headers=cast.headers("municipality")).json
    assert [h["id"] for h in listed["items"]] == [hook["id"]]

    # same tenant, other roles: refused; another tenant: not even seen
    assert _create(notifs, cast, "director", receiver.url).json["code"] == "forbidden"
    assert _create(notifs, cast, "coordinator", receiver.url).json["code"] == "forbidden"
    assert notifs.get(path, headers=cast.headers("director")).status_code == 403
    foreign = notifs.get(path, headers=cast.headers("other_municipality"))
    missing = notifs.get(f"/webhooks/{uuid.uuid4()}", headers=cast.headers("other_municipality"))
    assert foreign.status_code == missing.status_code == 404
    # the same words as for an id that names nothing: no trace that this webhook exists
    assert {k: v for k, v in foreign.json.items() if k not in ("instance", "request_id")} == {
        k: v for k, v in missing.json.items() if k not in ("instance", "request_id")
    }
    assert notifs.delete(path, headers=cast.headers("other_municipality")).status_code == 404
    assert notifs.get("/webhooks", headers=cast.headers("other_municipality")).json["total"] == 0
    assert notifs.get("/webhooks").status_code == 401
    # a vocational school is its own tenant: its school coordinator manages its webhooks
    assert _create(notifs, cast, "vocational_coordinator", receiver.url).status_code == 201

    changed = notifs.patch(path, json={"kinds": [], "active": False}, headers=cast.headers("municipality"))
    assert changed.status_code == 200 and changed.json["kinds"] == [] and changed.json["active"] is False
    rotated = notifs.post(f"{path}/rotate-secret", headers=cast.headers("municipality")).json
    assert rotated["secret"] != hook["secret"]
    assert notifs.delete(path, headers=cast.headers("municipality")).status_code == 204
    assert notifs.get(path, headers=cast.headers("municipality")).status_code == 404


def _stored(runtime: Any, hook_id: str) -> dict[str, Any]:
    with runtime.db.session() as s:
        row = s.execute(select(Webhook.__table__).where(Webhook.id == uuid.UUID(hook_id))).mappings().one()
        return dict(row)


def test_the_secret_is_shown_once_and_kept_encrypted(notifs, cast, hood, receiver, notif_runtime):
    hook = _create(notifs, cast, "municipality", receiver.url).json
    path = f"/webhooks/{hook['id']}"
    for read in (notifs.get(path, headers=cast.headers("municipality")).json,
                 notifs.get("/webhooks", headers=cast.headers("municipality")).json["items"][0],
                 notifs.patch(path, json={"description": "x"}, headers=cast.headers("municipality")).json):  # fmt: skip
        assert "secret" not in read and "secret_encrypted" not in read and hook["secret"] not in str(read)
    row = _stored(notif_runtime, hook["id"])
    assert "secret" not in row and hook["secret"] not in str(row)  # no column holds it in clear
    key = notif_runtime.settings.webhook_key
    assert Fernet(key.encode()).decrypt(row["secret_encrypted"].encode()).decode() == hook["secret"]

    rotated = notifs.post(f"{path}/rotate-secret", headers=cast.headers("municipality")).json
    row = _stored(notif_runtime, hook["id"])
    assert rotated["secret"] not in str(row)
    assert Fernet(key.encode()).decrypt(row["secret_encrypted"].encode()).decode() == rotated["secret"]
    # the worker opens it to sign: the receiver verifies with the secret the rotation showed
    send_as(notif_runtime, "notifications.plan_returned", _returned(cast, hood["a"], str(uuid.uuid4())))
    wait_for(lambda: receiver.accepted() and settled(notif_runtime), message="the webhook POST")
    (req,) = receiver.accepted()
    ts = req["headers"]["X-PuMPuRS-Timestamp"]
    assert verify(rotated["secret"], ts, req["body"], req["headers"]["X-PuMPuRS-Signature"])
    assert not verify(hook["secret"], ts, req["body"], req["headers"]["X-PuMPuRS-Signature"])


def test_a_secret_the_key_cannot_open_fails_the_delivery_for_good_and_sends_nothing(
    notifs, cast, hood, receiver, notif_runtime
):
    hook = _create(notifs, cast, "municipality", receiver.url).json
    did = _webhook_delivery(notif_runtime, hook["id"], hood["a"]["id"])
    other_key = notif_runtime.settings.replace(webhook_key=Fernet.generate_key().decode())
    with notif_runtime.db.session() as s, pytest.raises(Refused, match="NOTIFICATIONS_WEBHOOK_KEY"):
        delivery.deliver_webhook(s, notif_runtime.db, other_key, did)
    (failed,) = deliveries(notif_runtime, channel="webhook")
    assert (failed.status, failed.attempts) == ("failed", 1) and receiver.requests == []


def test_at_send_time_a_name_that_stopped_resolving_is_retried_and_a_private_one_refused(
    notifs, cast, hood, receiver, notif_runtime
):
    hook = _create(notifs, cast, "municipality", receiver.url).json
    settings = notif_runtime.settings
    for url, outcome, status, code in (
        ("http://no-such-host.invalid/hook", Unavailable, "retrying", "webhook_url_unresolvable"),  # DNS may be back
        ("http://10.0.0.7/hook", Refused, "failed", "webhook_url_private"),  # moved where webhooks may not go
    ):
        with notif_runtime.db.session() as s:
            s.get(Webhook, uuid.UUID(hook["id"])).url = url  # type: ignore[union-attr]
        did = _webhook_delivery(notif_runtime, hook["id"], hood["a"]["id"])
        with notif_runtime.db.session() as s, pytest.raises(outcome):
            delivery.deliver_webhook(s, notif_runtime.db, settings, did)
        [row] = [d for d in deliveries(notif_runtime, channel="webhook") if d.id == did]
        assert row.status == status and code in (row.last_error or "")
    assert receiver.requests == []


def _webhook_delivery(runtime: Any, hook_id: str, tenant_id: str) -> uuid.UUID:
    """A webhook delivery written as dispatch writes it, with no task queued: the test runs it itself."""
    with runtime.db.session() as s:
        n = Notification(
            id=uuid.uuid4(),
            key=f"statement_ready:{uuid.uuid4()}",
            kind="statement_ready",
            tenant_id=uuid.UUID(tenant_id),
            ref_type="statement",
            ref_id=str(uuid.uuid4()),
            data={"month": "2026-10-01", "total": "10.00"},
        )
        s.add(n)
        s.flush()
        did = add_delivery(s, n.id, "webhook", hook_id, "unused", "pending", webhook_id=uuid.UUID(hook_id))
        assert did is not None
        return did


BAD_URLS = [
    ("ftp://127.0.0.1/hook", "webhook_url_scheme"),
    ("file:///etc/passwd", "webhook_url_scheme"),
    ("127.0.0.1:8080/hook", "webhook_url_scheme"),
    ("http://user:secret@127.0.0.1/hook", "webhook_url_credentials"),
    ("https://token@127.0.0.1/hook", "webhook_url_credentials"),
    ("http://10.1.2.3/hook", "webhook_url_private"),
    ("http://192.168.0.10/hook", "webhook_url_private"),
    ("http://169.254.169.254/latest/meta-data", "webhook_url_private"),
    ("http://[::1]:8080/hook", "webhook_url_private"),  # the tests allow 127.0.0.0/8 only
    ("http://[fe80::1]/hook", "webhook_url_private"),
    ("http://0.0.0.0/hook", "webhook_url_private"),
    ("http://no-such-host.invalid/hook", "webhook_url_unresolvable"),
]


def test_bad_webhook_urls_are_refused_with_their_codes(notifs, cast, hood):
    for url, code in BAD_URLS:
        resp = _create(notifs, cast, "municipality", url)
        assert resp.status_code == 422 and resp.mimetype == "application/problem+json", url
        assert resp.json["code"] == code and resp.json["errors"]["url"] and resp.json["detail_lv"], url
    assert notifs.get("/webhooks", headers=cast.headers("municipality")).json["total"] == 0


def test_a_changed_url_is_checked_too(notifs, cast, hood, receiver):
    hook = _create(notifs, cast, "municipality", receiver.url).json
    resp = notifs.patch(
        f"/webhooks/{hook['id']}", json={"url": "http://10.0.0.7/x"}, headers=cast.headers("municipality")
    )
    assert resp.status_code == 422 and resp.json["code"] == "webhook_url_private"


def _returned(cast, tenant: dict[str, Any], plan: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "plan_id": plan,
        "code": "IAP-77",
        "tenant_id": tenant["id"],
        "school_id": tenant["school"],
        "preparer_id": cast.people["preparer"]["id"],
        "level": "director",
        "comment": "Lūdzu, precizējiet riskus (Jānis Bērziņš).",
        "decided_by": cast.people["director"]["id"],
    }


def test_a_webhook_gets_a_signed_payload_the_receiver_can_verify(notifs, cast, hood, receiver, notif_runtime):
    hook = _create(notifs, cast, "municipality", receiver.url).json
    only_statements = _create(
        notifs, cast, "municipality", receiver.url + "?only=statements", kinds=["statement_ready"]
    )
    assert only_statements.status_code == 201
    other_tenant = _create(notifs, cast, "other_municipality", receiver.url + "?tenant=b")
    assert other_tenant.status_code == 201
    plan = str(uuid.uuid4())
    send_as(notif_runtime, "notifications.plan_returned", _returned(cast, hood["a"], plan))
    wait_for(lambda: receiver.accepted() and settled(notif_runtime), message="the webhook POST")
    (req,) = receiver.requests
    assert req["path"] == "/hook"  # neither the statements-only hook nor the other tenant's
    headers = {k.lower(): v for k, v in req["headers"].items()}
    ts, given = headers["x-pumpurs-timestamp"], headers["x-pumpurs-signature"]
    expected = (
        "sha256=" + hmac.new(hook["secret"].encode(), f"{ts}.".encode() + req["body"], hashlib.sha256).hexdigest()
    )
    assert hmac.compare_digest(given, expected) and abs(time.time() - int(ts)) < 60
    assert headers["x-pumpurs-event"] == "plan_returned" and headers["content-type"] == "application/json"
    body = receiver.payloads()[0]
    assert body["kind"] == "plan_returned" and body["ref"] == {"type": "plan", "id": plan}
    assert body["tenant_id"] == hood["a"]["id"] and body["data"]["code"] == "IAP-77"
    assert "comment" not in body["data"]  # free text stays out of integrations
    assert headers["x-pumpurs-delivery"] == str(deliveries(notif_runtime, channel="webhook")[0].id)
    # a body changed on the way no longer verifies
    forged = "sha256=" + hmac.new(hook["secret"].encode(), f"{ts}.".encode() + b"{}", hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(given, forged)


def test_a_failing_endpoint_is_retried_with_backoff_and_gets_the_payload_once(
    notifs, cast, hood, receiver, notif_runtime
):
    hook = _create(notifs, cast, "municipality", receiver.url).json
    receiver.fail_next = 2
    send_as(notif_runtime, "notifications.plan_returned", _returned(cast, hood["a"], str(uuid.uuid4())))
    wait_for(lambda: receiver.accepted() and settled(notif_runtime), timeout=60, message="the third try")
    assert [r["answered"] for r in receiver.requests] == [500, 500, 204]
    assert len({r["headers"]["X-PuMPuRS-Delivery"] for r in receiver.requests}) == 1
    log = notifs.get(f"/webhooks/{hook['id']}/deliveries", headers=cast.headers("municipality")).json
    (entry,) = log["items"]
    assert entry["status"] == "sent" and entry["attempts"] == 3 and entry["response_status"] == 204
    assert entry["kind"] == "plan_returned" and "HTTP 500" in entry["last_error"]


def test_an_endpoint_failing_past_the_retries_is_dead_lettered_and_visible(notifs, cast, hood, receiver, notif_runtime):
    cast.person("admin", None, {"role": "platform_admin"})
    hook = _create(notifs, cast, "municipality", receiver.url).json
    receiver.always_fail = True
    send_as(notif_runtime, "notifications.plan_returned", _returned(cast, hood["a"], str(uuid.uuid4())))
    wait_for(
        lambda: [d for d in deliveries(notif_runtime, channel="webhook") if d.dead_letter_id],
        timeout=90,
        message="the webhook delivery dead-lettered",
    )
    assert len(receiver.requests) == 7
    log = notifs.get(f"/webhooks/{hook['id']}/deliveries?status=failed", headers=cast.headers("municipality")).json
    assert log["total"] == 1 and log["items"][0]["response_status"] == 500 and log["items"][0]["attempts"] == 7
    admin = cast.headers("admin")
    failed = notifs.get("/admin/deliveries?status=failed&channel=webhook", headers=admin).json["items"]
    assert [f["id"] for f in failed] == [log["items"][0]["id"]]
    dead = notifs.get("/admin/dead-letters", headers=admin).json["items"]
    assert [d["task_name"] for d in dead] == ["notifications.deliver_webhook"]
    # the coordinator reads only their tenant's webhook log; the admin list is for admins
    assert notifs.get("/admin/deliveries", headers=cast.headers("municipality")).status_code == 403
