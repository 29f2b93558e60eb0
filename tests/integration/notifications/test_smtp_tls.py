"""SMTP over TLS against real servers started here: implicit TLS (SMTP_SECURITY=ssl, port 465 style) and
STARTTLS, each verified against the CA file the settings name (SMTP_CA_FILE), with self-signed
certificates made by `cryptography`; a certificate that does not verify is refused, and the delivery is
retried (kept, counted), not lost, and sent once the server presents the right one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from devstack.run import free_port
from services.notifications import delivery
from services.notifications.dispatch import add_delivery
from services.notifications.mailer import Refused, Unavailable
from services.notifications.models import FAILED, PENDING, RETRYING, SENT, Delivery, Notification
from tests.support.tls import Cert, self_signed

pytestmark = pytest.mark.integration

TO = "gramatvede@example.test"


class TlsSink:
    """An SMTP server on 127.0.0.1 speaking TLS from the first byte (`ssl`) or after STARTTLS, required."""

    def __init__(self, cert: Cert, mode: str, port: int) -> None:
        self.received: list[Any] = []
        tls = {"ssl_context": cert.server_context()}
        if mode == "starttls":
            tls = {"tls_context": cert.server_context(), "require_starttls": True}
        self.controller = Controller(self, hostname="127.0.0.1", port=port, **tls)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope)
        return "250 Message accepted"

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture()
def certs(tmp_path: Path) -> dict[str, Cert]:
    local = {"dns": ("localhost",), "ips": ("127.0.0.1",)}
    return {
        "right": self_signed(tmp_path, "mail", **local),  # type: ignore[arg-type]
        "untrusted": self_signed(tmp_path, "impostor", **local),  # type: ignore[arg-type]
        "other_name": self_signed(tmp_path, "elsewhere", dns=("mail.elsewhere.test",)),
    }


@pytest.fixture()
def ca_file(tmp_path: Path, certs: dict[str, Cert]) -> str:
    """What the settings trust: our server's certificate, and one that names another host."""
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(certs["right"].cert.read_bytes() + certs["other_name"].cert.read_bytes())
    return str(bundle)


@pytest.fixture()
def sinks() -> Iterator[list[TlsSink]]:
    started: list[TlsSink] = []
    yield started
    for sink in started:
        sink.stop()


def _delivery(runtime: Any) -> uuid.UUID:
    """A statement notification's e-mail delivery, written as dispatch writes it (no task is queued)."""
    with runtime.db.session() as s:
        n = Notification(
            id=uuid.uuid4(),
            key=f"statement_ready:{uuid.uuid4()}",
            kind="statement_ready",
            ref_type="statement",
            ref_id=str(uuid.uuid4()),
            data={"month": "2026-10-01", "total": "1234.50", "tenant_name": "Ventspils novads"},
        )
        s.add(n)
        s.flush()
        did = add_delivery(s, n.id, "email", "accountant", TO, PENDING)
        assert did is not None
        return did


def _deliver(runtime: Any, settings: Any, did: uuid.UUID) -> str:
    with runtime.db.session() as s:
        return delivery.deliver_email(s, runtime.db, settings, did)


def _row(runtime: Any, did: uuid.UUID) -> Delivery:
    with runtime.db.session() as s:
        row = s.get(Delivery, did)
        assert row is not None
        return row


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_mail_goes_over_tls_verified_against_the_configured_ca(notifs, notif_runtime, certs, ca_file, sinks, mode):
    port = free_port()
    sinks.append(TlsSink(certs["right"], mode, port))
    settings = notif_runtime.settings.replace(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security=mode, smtp_ca_file=ca_file
    )
    did = _delivery(notif_runtime)
    assert _deliver(notif_runtime, settings, did) == "sent"
    (got,) = sinks[0].received
    assert got.rcpt_tos == [TO] and b"X-PuMPuRS-Kind: statement_ready" in got.original_content
    row = _row(notif_runtime, did)
    assert (row.status, row.attempts) == (SENT, 1)
    # a server that requires STARTTLS refuses mail in the clear (530): a setting to fix, dead-lettered
    if mode == "starttls":
        plain = _delivery(notif_runtime)
        with pytest.raises(Refused, match="530"):
            _deliver(notif_runtime, settings.replace(smtp_security="none"), plain)
        assert len(sinks[0].received) == 1 and _row(notif_runtime, plain).status == FAILED


@pytest.mark.parametrize("wrong", ["untrusted", "other_name"])
def test_a_certificate_that_does_not_verify_is_refused_then_retried_and_sent_once(
    notifs, notif_runtime, certs, ca_file, sinks, wrong
):
    port = free_port()
    sinks.append(TlsSink(certs[wrong], "ssl", port))
    settings = notif_runtime.settings.replace(
        smtp_host="127.0.0.1", smtp_port=port, smtp_security="ssl", smtp_ca_file=ca_file
    )
    did = _delivery(notif_runtime)
    for attempt in (1, 2):
        with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
            _deliver(notif_runtime, settings, did)
        row = _row(notif_runtime, did)
        # kept for the worker's next try (Unavailable is what the consumer retries with backoff)
        assert (row.status, row.attempts) == (RETRYING, attempt) and "SSLCertVerificationError" in row.last_error
    assert sinks[0].received == []  # nothing was said to a server that could not prove who it is

    # the server gets its right certificate: the next try sends the mail, and a redelivered task nothing
    sinks.pop().stop()
    sinks.append(TlsSink(certs["right"], "ssl", port))
    assert _deliver(notif_runtime, settings, did) == "sent"
    assert _deliver(notif_runtime, settings, did) == "skipped"
    assert [e.rcpt_tos for e in sinks[0].received] == [[TO]]
    row = _row(notif_runtime, did)
    assert (row.status, row.attempts) == (SENT, 3)
