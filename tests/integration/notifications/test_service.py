"""The notifications service as a whole: its worker handles every message addressed to it, its migrations
match its models, it answers health and readiness, and its recipients follow identity's changes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from services.common import migrate
from services.common.contracts import CONTRACT
from services.notifications.models import InboxItem, Recipient
from tests.integration.conftest import SYSTEM
from tests.integration.notifications.conftest import mails_to, send_as, settled, staff_grants
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def test_the_worker_handles_every_message_addressed_to_notifications(notifications_settings):
    from services.notifications.runtime import make_runtime
    from services.notifications.tasks import register

    runtime = make_runtime(notifications_settings.replace(delivery_max_retries=3, task_max_retries=5))
    register(runtime)
    ours = {name: task for name, task in runtime.celery.tasks.items() if not name.startswith("celery.")}
    addressed = {name for name, spec in CONTRACT.tasks.items() if spec.service == "notifications"}
    assert set(ours) == addressed
    for name, task in ours.items():
        assert task.queue == CONTRACT.get(name).queue and task.contract is CONTRACT.get(name)
        assert task.acks_late and task.reject_on_worker_lost
    # a delivery has its own retry budget; everything else keeps the common one
    assert ours["notifications.deliver_email"].max_retries == ours["notifications.deliver_webhook"].max_retries == 3
    assert ours["notifications.sync_user"].max_retries == 5
    assert {task for task, _ in CONTRACT.schedules.values()} >= {
        "notifications.send_reminders",
        "notifications.send_digests",
    }


def test_mail_goes_out_over_smtp_with_the_login_from_the_settings(notifications_settings, sink_dir):
    from services.notifications import mailer, render

    to = f"login-{uuid.uuid4().hex[:8]}@example.test"
    texts = render.Texts("Pārbaude", "Test", "Teksts", "Text")
    message = render.email_message(
        mail_from="PuMPuRS <no-reply@pumpurs.test>",
        to=to,
        language="lv",
        entries=[render.Entry("plan_approved", texts, None)],
    )
    mailer.send(notifications_settings.replace(smtp_username="pumpurs", smtp_password="secret"), message)
    (got,) = wait_for(lambda: mails_to(sink_dir, to), message="the mail in the sink")
    assert got["Subject"] == "Pārbaude / Test" and got["From"] == "PuMPuRS <no-reply@pumpurs.test>"


def test_the_migrations_match_the_models(notifications_settings):
    migrate.check("notifications", notifications_settings.database_url)


def test_health_and_readiness_check_the_real_dependencies(notifs):
    assert notifs.get("/healthz").json == {"status": "ok", "service": "notifications"}
    ready = notifs.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "broker": "ok"}
    assert notifs.get("/admin/deliveries").status_code == 401


def _recipient(runtime: Any, user_id: str) -> Recipient | None:
    with runtime.db.session() as s:
        return s.get(Recipient, uuid.UUID(user_id))


def test_recipients_follow_identity_and_a_deactivated_user_is_told_nothing(cast, world):
    from services.identity import admin

    a = cast.tenant()
    g = staff_grants(a)
    director = cast.person("director", a, g["director"])
    stays = cast.person("second_director", a, g["director"], language="en")
    held = _recipient(cast.runtime, stays["id"])
    assert held is not None and held.language == "en" and held.email == stays["email"]
    assert held.roles == [{"role": "director", "tenant_id": a["id"], "school_id": a["school"], "region": None}]

    with world.runtime.db.session() as s:
        admin.update_user(s, world.runtime.outbox, world.settings, SYSTEM, uuid.UUID(director["id"]), {"active": False})
    wait_for(lambda: not _recipient(cast.runtime, director["id"]).active, message="the deactivation")  # type: ignore[union-attr]
    # an older revision arriving late changes nothing
    late = send_as(
        cast.runtime,
        "notifications.sync_user",
        {
            "user_id": director["id"],
            "revision": 1,
            "tenant_id": a["id"],
            "email": director["email"],
            "full_name": "Old",
            "language": "lv",
            "active": True,
            "roles": [],
        },
    )
    wait_for(lambda: _handled(cast.runtime, late), message="the late revision handled")
    assert _recipient(cast.runtime, director["id"]).active is False  # type: ignore[union-attr]
    plan = str(uuid.uuid4())
    send_as(
        cast.runtime,
        "notifications.plan_awaiting_approval",
        {
            "plan_id": plan,
            "code": "IAP-D",
            "tenant_id": a["id"],
            "school_id": a["school"],
            "level": "director",
            "since": "2026-11-20T10:00:00+00:00",
        },
    )

    def told() -> set[str] | None:
        with cast.runtime.db.session() as s:
            owners = s.execute(select(InboxItem.user_id).where(InboxItem.ref_id == plan)).scalars().all()
        return {str(o) for o in owners} if owners and settled(cast.runtime) else None

    assert wait_for(told, message="the approvers told") == {stays["id"]}


def _handled(runtime: Any, message_id: str) -> bool:
    with runtime.db.session() as s:
        table = runtime.tables.processed
        return s.execute(select(table.c.message_id).where(table.c.message_id == message_id)).first() is not None
