"""Account mails: identity's link message (an id, no token) becomes one e-mail whose link identity accepts,
in the person's language, even when they muted every kind; no inbox item; a message twice mails once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from services.common.account_links import link_secret
from services.notifications.catalogue import KINDS
from services.notifications.models import InboxItem
from tests.integration.notifications.conftest import LINKS, deliveries, mails_to, send_as, settled, staff_grants
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration


def _link_message(person: dict[str, Any], purpose: str, language: str = "lv") -> dict[str, Any]:
    return {
        "link_id": str(uuid.uuid4()),
        "user_id": person["id"],
        "purpose": purpose,
        "email": person["email"],
        "full_name": "Ilze Bērziņa",
        "language": language,
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }


def _link_in(mail: Any) -> str:
    text = mail.get_body(("plain",)).get_content()
    return next(word for line in text.splitlines() for word in line.split() if word.startswith(LINKS))


def test_a_reset_mail_reaches_a_person_who_muted_everything_with_a_link_only_the_id_makes(
    notifs, cast, sink_dir, notifications_settings
):
    a = cast.tenant()
    person = cast.person("accountant", a, staff_grants(a)["accountant"], language="en")
    for kind in KINDS:
        resp = notifs.put(
            f"/preferences/{kind}", json={"email": False, "inbox": True}, headers=cast.headers("accountant")
        )
        assert resp.status_code == 200, resp.json
    message = _link_message(person, "password_reset", language="en")
    send_as(cast.runtime, "notifications.account_link", message)
    send_as(cast.runtime, "notifications.account_link", message)  # delivered twice: mailed once

    def mailed() -> list[Any]:
        return [m for m in mails_to(sink_dir, person["email"]) if m["X-PuMPuRS-Kind"] == "password_reset"]

    wait_for(lambda: mailed() and settled(cast.runtime), timeout=30, message="the reset mail")
    [mail] = mailed()
    assert mail["Subject"] == "Reset your PuMPuRS password / Paroles atjaunošana PuMPuRS platformā"
    url = urlsplit(_link_in(mail))
    assert url.path == f"/account/reset/{message['link_id']}"
    token = parse_qs(url.query)["token"][0]
    assert token == link_secret(notifications_settings.account_link_secret, message["link_id"], "password_reset")
    assert "preferences" not in mail.get_body(("plain",)).get_content()  # an account mail cannot be muted

    [delivery] = [d for d in deliveries(cast.runtime) if d.user_id == uuid.UUID(person["id"])]
    assert delivery.status == "sent"
    with cast.runtime.db.session() as s:
        assert s.query(InboxItem).filter_by(user_id=uuid.UUID(person["id"])).count() == 0
        # neither the notification nor its delivery keeps the token
        stored = s.execute(text("SELECT data::text FROM notifications WHERE kind = 'password_reset'")).scalar_one()
    assert token not in stored


def test_an_invitation_mail_is_in_latvian_first(notifs, cast, sink_dir):
    a = cast.tenant()
    person = cast.person("teacher", a, staff_grants(a)["teacher"])
    message = _link_message(person, "invitation")
    send_as(cast.runtime, "notifications.account_link", message)
    wait_for(lambda: mails_to(sink_dir, person["email"]), timeout=30, message="the invitation")
    [mail] = mails_to(sink_dir, person["email"])
    assert mail["Subject"].startswith("Ielūgums PuMPuRS platformā / ")
    assert urlsplit(_link_in(mail)).path == f"/account/invitation/{message['link_id']}"
