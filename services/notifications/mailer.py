"""Send one e-mail over SMTP (implicit TLS or STARTTLS, and login, when configured), telling passing
trouble from final. TLS always verifies the server's certificate and name (against `SMTP_CA_FILE` when
set): a certificate that does not verify is passing trouble, retried until it is fixed, never skipped."""

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
        with _connect(settings) as smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=_tls(settings))
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
    # refused connection, timeout, dropped session, or a TLS certificate that does not verify (ssl.SSLError)
    except (smtplib.SMTPException, OSError) as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc


def _tls(settings: NotificationsSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.smtp_ca_file or None)


def _connect(settings: NotificationsSettings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    if settings.smtp_security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls(settings))
    return smtplib.SMTP(host, port, timeout=timeout)
