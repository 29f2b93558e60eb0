"""notifications.mailer: implicit TLS or STARTTLS and login from the settings, and SMTP trouble told apart
as passing (retry) or final (give up), against stand-ins for smtplib.SMTP and SMTP_SSL (no servers; the
integration tests talk TLS to real ones)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

import pytest
from cryptography.fernet import Fernet
from environs import EnvError

from services.notifications import mailer
from services.notifications.settings import NotificationsSettings, load_notifications_settings

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
    smtp_security="starttls",
    smtp_username="pumpurs",
    smtp_password="secret",
)


class FakeSMTP:
    calls: list[tuple[str, Any]] = []
    fail: BaseException | None = None
    context: ssl.SSLContext | None = None

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


class FakeSMTPSSL(FakeSMTP):
    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        FakeSMTP.calls.append(("connect_tls", (host, port, timeout)))
        FakeSMTP.context = context
        if isinstance(FakeSMTP.fail, OSError):
            raise FakeSMTP.fail


@pytest.fixture(autouse=True)
def fake_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeSMTP.calls, FakeSMTP.fail, FakeSMTP.context = [], None, None
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(smtplib, "SMTP_SSL", FakeSMTPSSL)


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
    mailer.send(SETTINGS.replace(smtp_security="none", smtp_username=""), _msg())
    assert [c[0] for c in FakeSMTP.calls] == ["connect", "send", "quit"]


def test_implicit_tls_connects_over_tls_and_never_starts_tls_again():
    mailer.send(SETTINGS.replace(smtp_security="ssl", smtp_port=465), _msg())
    assert [c[0] for c in FakeSMTP.calls] == ["connect_tls", "login", "send", "quit"]
    ctx = FakeSMTP.context
    assert ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_a_ca_file_that_cannot_be_read_is_passing_trouble_not_a_silent_plain_send(tmp_path):
    with pytest.raises(mailer.Unavailable):
        mailer.send(SETTINGS.replace(smtp_security="ssl", smtp_ca_file=str(tmp_path / "missing.pem")), _msg())
    assert FakeSMTP.calls == []


@pytest.mark.parametrize(
    ("env", "security"),
    [
        ({}, "none"),
        ({"SMTP_STARTTLS": "true"}, "starttls"),  # the older setting keeps meaning what it meant
        ({"SMTP_SECURITY": "ssl", "SMTP_STARTTLS": "true"}, "ssl"),
        ({"SMTP_SECURITY": "starttls"}, "starttls"),
    ],
)
def test_the_security_setting_and_the_older_starttls_one(monkeypatch, env, security):
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", "postgresql://x@localhost/n")
    monkeypatch.setenv("NOTIFICATIONS_WEBHOOK_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("ACCOUNT_LINK_SECRET", "x")
    for name in ("SMTP_SECURITY", "SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_notifications_settings().smtp_security == security


def test_an_unknown_security_setting_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", "postgresql://x@localhost/n")
    monkeypatch.setenv("NOTIFICATIONS_WEBHOOK_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("ACCOUNT_LINK_SECRET", "x")
    monkeypatch.setenv("SMTP_SECURITY", "tls")
    with pytest.raises(EnvError):
        load_notifications_settings()


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
