"""A webhook POST goes to an address that was checked: the name is resolved once, every address is
checked, and the connection is made to a checked one, while the Host header, TLS SNI and the certificate
check keep the name. Against the local receiver (the tests' settings allow loopback) over HTTP and HTTPS,
with names no real DNS knows, so only the pinned address can have been reached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.notifications import webhooks
from services.notifications.mailer import Unavailable
from tests.integration.notifications.conftest import Receiver
from tests.support.tls import self_signed

pytestmark = pytest.mark.integration

NAME = "hooks.pumpurs.test"  # .test never resolves in real DNS
LOOPBACK = ("127.0.0.0/8",)


class Dns:
    """Answers `NAME` with one list the first time and another after it (a DNS rebinding), counting."""

    def __init__(self, first: list[str], then: list[str]) -> None:
        self.first, self.then, self.asked = first, then, 0

    def __call__(self, host: str, port: int) -> list[str]:
        assert host == NAME
        self.asked += 1
        return self.first if self.asked == 1 else self.then


def _post(url: str, dns: Dns, **kw: Any) -> int:
    return webhooks.post(
        url,
        "whsec_test",
        {"kind": "plan_returned"},
        event="plan_returned",
        delivery_id="d-1",
        timeout=3.0,
        allowed_networks=LOOPBACK,
        resolve=dns,
        **kw,
    )


@pytest.fixture()
def tls_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, str]]:
    cert = self_signed(tmp_path, "hooks", dns=(NAME,))
    r = Receiver(tls=cert)
    yield r, str(cert.cert)
    r.stop()


def test_the_post_goes_to_the_checked_address_with_the_name_as_host(receiver):
    # resolved once: the rebinding to a private address a moment later is never asked about, nor reached
    dns = Dns(["127.0.0.1"], ["10.20.30.40"])
    assert _post(f"http://{NAME}:{receiver.port}/hook?tenant=a", dns) == 204
    (req,) = receiver.requests
    assert dns.asked == 1
    assert req["path"] == "/hook?tenant=a" and req["headers"]["Host"] == f"{NAME}:{receiver.port}"
    assert webhooks.verify(
        "whsec_test", req["headers"]["X-PuMPuRS-Timestamp"], req["body"], req["headers"]["X-PuMPuRS-Signature"]
    )


def test_an_address_that_does_not_answer_gives_way_to_the_next_checked_one(receiver):
    # the receiver listens on 127.0.0.1 only: 127.0.0.2 (loopback too, so allowed) refuses the connection
    dns = Dns(["127.0.0.2", "127.0.0.1"], [])
    assert _post(f"http://{NAME}:{receiver.port}/hook", dns) == 204
    assert len(receiver.requests) == 1 and dns.asked == 1
    with pytest.raises(Unavailable, match="NewConnectionError"):
        _post(f"http://{NAME}:{receiver.port}/hook", Dns(["127.0.0.2"], []))


def test_a_name_with_one_address_not_allowed_is_refused_before_any_connection(receiver):
    with pytest.raises(webhooks.UrlProblem) as err:
        _post(f"http://{NAME}:{receiver.port}/hook", Dns(["127.0.0.1", "10.0.0.5"], []))
    assert err.value.code == "webhook_url_private" and receiver.requests == []


def test_https_connects_to_the_checked_address_and_verifies_the_name(tls_receiver):
    receiver, ca = tls_receiver
    assert _post(f"https://{NAME}:{receiver.port}/hook", Dns(["127.0.0.1"], []), ca_certs=ca) == 204
    (req,) = receiver.requests
    assert receiver.server_names == [NAME] and req["headers"]["Host"] == f"{NAME}:{receiver.port}"
    # the same server reached by its address alone proves nothing about the name: refused, nothing sent
    with pytest.raises(Unavailable, match="SSLError"):
        webhooks.post(
            receiver.url,
            "whsec_test",
            {},
            event="plan_returned",
            delivery_id="d-2",
            timeout=3.0,
            allowed_networks=LOOPBACK,
            ca_certs=ca,
        )
    assert len(receiver.requests) == 1
