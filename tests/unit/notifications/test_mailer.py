"""notifications.mailer: STARTTLS and login from the settings, and SMTP trouble told apart as passing
(retry) or final (give up), against a stand-in for smtplib.SMTP (no servers)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import pytest

from services.notifications import mailer
from services.notifications.settings import NotificationsSettings

pytestmark = pytest.mark.unit

SETTINGS = NotificationsSettings(
    service="notifications",
    database_url="",
    broker_url="",
    result_backend="",
    jwt_issuer="",
    jwt_audience="",
    jwks_url="",
    smtp_host="mail.example.lv",
    smtp_port=587,
    smtp_starttls=True,
    smtp_username="pumpurs",
    smtp_password="secret",
)


class FakeSMTP:
    calls: list[tuple[str, Any]] = []
    fail: BaseException | None = None

    def __init__(self, host: str, port: int, timeout: float) -> None:
        FakeSMTP.calls.append(("connect", (host, port, timeout)))
        if isinstance(FakeSMTP.fail, OSError):
            raise FakeSMTP.fail

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: Any) -> None:
        FakeSMTP.calls.append(("quit", None))

    def starttls(self, context: Any) -> None:
        FakeSMTP.calls.append(("starttls", None))

    def login(self, user: str, password: str) -> None:
        FakeSMTP.calls.append(("login", (user, password)))

    def send_message(self, msg: EmailMessage) -> None:
        if FakeSMTP.fail is not None:
            raise FakeSMTP.fail
        FakeSMTP.calls.append(("send", msg["To"]))


@pytest.fixture(autouse=True)
def fake_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeSMTP.calls, FakeSMTP.fail = [], None
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)


def _msg() -> EmailMessage:
    m = EmailMessage()
    m["To"] = "a@b.lv"
    m.set_content("x")
    return m


def test_starttls_then_login_then_send_when_the_settings_say_so():
    mailer.send(SETTINGS, _msg())
    assert [c[0] for c in FakeSMTP.calls] == ["connect", "starttls", "login", "send", "quit"]
    assert FakeSMTP.calls[0][1] == ("mail.example.lv", 587, 10.0) and FakeSMTP.calls[2][1] == ("pumpurs", "secret")


def test_no_starttls_and_no_login_when_not_configured():
    mailer.send(SETTINGS.replace(smtp_starttls=False, smtp_username=""), _msg())
    assert [c[0] for c in FakeSMTP.calls] == ["connect", "send", "quit"]


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (ConnectionRefusedError("down"), mailer.Unavailable),
        (TimeoutError("slow"), mailer.Unavailable),
        (smtplib.SMTPServerDisconnected("gone"), mailer.Unavailable),
        (smtplib.SMTPResponseException(421, b"try later"), mailer.Unavailable),
        (smtplib.SMTPRecipientsRefused({"a@b.lv": (450, b"mailbox busy")}), mailer.Unavailable),
        (smtplib.SMTPRecipientsRefused({"a@b.lv": (550, b"no such user")}), mailer.Refused),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "x@y"), mailer.Refused),
        (smtplib.SMTPAuthenticationError(535, b"bad login"), mailer.Refused),
        (smtplib.SMTPNotSupportedError("no STARTTLS"), mailer.Refused),
    ],
)
def test_smtp_trouble_is_passing_or_final(error, outcome):
    FakeSMTP.fail = error
    with pytest.raises(outcome):
        mailer.send(SETTINGS, _msg())


def test_passing_trouble_is_a_connection_error_the_consumer_retries():
    assert issubclass(mailer.Unavailable, ConnectionError) and not issubclass(mailer.Refused, ConnectionError)
