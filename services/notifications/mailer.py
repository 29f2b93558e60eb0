"""Send one e-mail over SMTP (STARTTLS and login when configured), telling passing trouble from final."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from .settings import NotificationsSettings


class Unavailable(ConnectionError):
    """The server (SMTP or a webhook endpoint) is away or busy: try again later.

    A ConnectionError, so the kernel's consumer retries it with backoff and dead-letters it at the end.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Refused(Exception):
    """The server refused this message for good (bad address, bad login): retrying cannot help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def send(settings: NotificationsSettings, message: EmailMessage) -> None:
    """Hand one message to the SMTP server; raise Unavailable (retry) or Refused (give up)."""
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(400 <= c < 500 for c in codes):
            raise Unavailable(f"recipient deferred: {codes}") from exc
        raise Refused(f"recipient refused: {codes}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise Refused(f"the SMTP server does not support this: {exc}") from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise Refused(f"SMTP login refused ({exc.smtp_code})") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:
            raise Unavailable(f"SMTP {exc.smtp_code}") from exc
        raise Refused(f"SMTP {exc.smtp_code}") from exc
    except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, dropped session
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
