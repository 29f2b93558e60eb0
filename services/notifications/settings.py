"""Notifications' own settings, on top of the common ones."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet
from marshmallow import ValidationError, validate

from services.common.settings import Settings, common_values, read_env

SMTP_SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class NotificationsSettings(Settings):
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    # none | starttls (a plain connection upgraded, usually port 587) | ssl (TLS from the first byte, 465)
    smtp_security: str = "none"
    # a PEM bundle to verify the SMTP server's certificate against, instead of the system's CAs
    smtp_ca_file: str = ""
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 10.0
    mail_from: str = "PuMPuRS <no-reply@pumpurs.local>"
    # where a person opens what a message refers to ("" gives relative links such as /plans/<id>)
    link_base_url: str = ""
    # the platform secret invitation and reset links are derived from, shared with identity
    account_link_secret: str = ""
    # a delivery (one e-mail, one webhook POST) is tried this many more times before it is dead-lettered
    delivery_max_retries: int = 8
    webhook_timeout: float = 5.0
    # the Fernet key webhook secrets are encrypted under at rest (no default outside the local run)
    webhook_key: str = ""
    # private, loopback or link-local networks webhooks may still reach (CIDRs); none by default
    webhook_allowed_networks: tuple[str, ...] = ()
    # the expense package deadline: reminders this many days before it
    reminder_days_before: tuple[int, ...] = (5, 1)
    # overdue items escalate one level (coordinator -> director -> municipality coordinator) this often
    escalation_days: int = 3
    # semester evaluations: a reminder this many days before the semester ends (and on its last day)
    evaluation_days_before: int = 7
    # a missing evaluation: overdue notices from this many days after the semester's last day (0: the
    # next day), escalating one level (preparer and coordinator -> director -> municipality) this often
    evaluation_grace_days: int = 0
    evaluation_escalation_days: int = 3
    # a plan waiting longer than this in one approval level reminds its approvers
    approval_wait_days: int = 5
    # daily digests go out at this hour, Europe/Riga
    digest_hour: int = 7


def _fernet_key(value: str) -> None:
    """Refuse at start, not at the first webhook: an empty or malformed key (compose passes blanks on)."""
    try:
        Fernet(value.encode())
    except (ValueError, TypeError) as exc:
        raise ValidationError("not a Fernet key (32 url-safe base64-encoded bytes)") from exc


def _ints(raw: list[str]) -> tuple[int, ...]:
    return tuple(sorted({int(x) for x in raw if str(x).strip()}, reverse=True))


def load_notifications_settings() -> NotificationsSettings:
    env = read_env()
    escalation_days = env.int("NOTIFICATIONS_ESCALATION_DAYS", 3)
    return NotificationsSettings(
        **common_values("notifications", env),
        smtp_host=env.str("SMTP_HOST", "127.0.0.1"),
        smtp_port=env.int("SMTP_PORT", 25),
        # SMTP_STARTTLS=true, the older setting, still means starttls when SMTP_SECURITY is not set
        smtp_security=env.str(
            "SMTP_SECURITY",
            "starttls" if env.bool("SMTP_STARTTLS", False) else "none",
            validate=validate.OneOf(SMTP_SECURITY),
        ),
        smtp_ca_file=env.str("SMTP_CA_FILE", ""),
        smtp_username=env.str("SMTP_USERNAME", ""),
        smtp_password=env.str("SMTP_PASSWORD", ""),
        smtp_timeout=env.float("SMTP_TIMEOUT", 10.0),
        mail_from=env.str("NOTIFICATIONS_MAIL_FROM", "PuMPuRS <no-reply@pumpurs.local>"),
        link_base_url=env.str("NOTIFICATIONS_LINK_BASE_URL", "").rstrip("/"),
        account_link_secret=env.str("ACCOUNT_LINK_SECRET"),
        delivery_max_retries=env.int("NOTIFICATIONS_DELIVERY_MAX_RETRIES", 8),
        webhook_timeout=env.float("NOTIFICATIONS_WEBHOOK_TIMEOUT", 5.0),
        webhook_key=env.str("NOTIFICATIONS_WEBHOOK_KEY", validate=_fernet_key),
        webhook_allowed_networks=tuple(env.list("NOTIFICATIONS_WEBHOOK_ALLOWED_NETWORKS", [])),
        reminder_days_before=_ints(env.list("NOTIFICATIONS_REMINDER_DAYS_BEFORE", ["5", "1"])),
        escalation_days=escalation_days,
        evaluation_days_before=env.int("NOTIFICATIONS_EVALUATION_DAYS_BEFORE", 7),
        evaluation_grace_days=env.int("NOTIFICATIONS_EVALUATION_GRACE_DAYS", 0),
        evaluation_escalation_days=env.int("NOTIFICATIONS_EVALUATION_ESCALATION_DAYS", escalation_days),
        approval_wait_days=env.int("NOTIFICATIONS_APPROVAL_WAIT_DAYS", 5),
        digest_hour=env.int("NOTIFICATIONS_DIGEST_HOUR", 7),
    )
