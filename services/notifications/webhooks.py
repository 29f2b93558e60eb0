"""Webhooks: which URLs are allowed, how a payload is signed, and one POST, pinned to the addresses that
were checked, told apart as passing trouble (retry) or a final refusal.

Signature: `X-PuMPuRS-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with the
Unix time in `X-PuMPuRS-Timestamp`; a receiver recomputes it and rejects old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.util import Timeout

from .mailer import Refused, Unavailable

SIGNATURE_HEADER = "X-PuMPuRS-Signature"
TIMESTAMP_HEADER = "X-PuMPuRS-Timestamp"
EVENT_HEADER = "X-PuMPuRS-Event"
DELIVERY_HEADER = "X-PuMPuRS-Delivery"

Resolver = Callable[[str, int], list[str]]


class UrlProblem(Exception):
    """A URL webhooks must not call; `code` is the stable error code the API answers with."""

    def __init__(self, code: str, detail: str, detail_lv: str) -> None:
        super().__init__(detail)
        self.code, self.detail, self.detail_lv = code, detail, detail_lv


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _blocked(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast


@dataclass(frozen=True)
class Target:
    """A webhook URL resolved once, with every address checked: the only addresses a POST may reach."""

    url: str
    scheme: str
    host: str  # the name, for the Host header, TLS SNI and the certificate check
    port: int
    netloc: str  # host[:port] as the URL gives it: the Host header
    path: str  # path and query
    addresses: tuple[str, ...]


def resolve_target(url: str, allowed_networks: Iterable[str] = (), resolve: Resolver = _resolve) -> Target:
    """The URL, resolved and checked, if webhooks may call it; else UrlProblem with a stable code.

    Only http(s), no user or password in it, and every address its host resolves to public, unless a
    configured network allows it (tests allow loopback; an intranet deployment may allow its own).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlProblem("webhook_url_invalid", "The URL cannot be read.", "URL nevar nolasīt.") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlProblem(
            "webhook_url_scheme", "Only http and https URLs are allowed.", "Atļauti tikai http un https URL."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlProblem(
            "webhook_url_credentials",
            "The URL must not hold a user name or password; the signature authenticates us.",
            "URL nedrīkst saturēt lietotājvārdu vai paroli; mūs apliecina paraksts.",
        )
    host = parts.hostname
    if not host:
        raise UrlProblem("webhook_url_invalid", "The URL names no host.", "URL nav norādīts serveris.")
    if parts.fragment:
        raise UrlProblem("webhook_url_invalid", "The URL must not have a #fragment.", "URL nedrīkst būt #fragments.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    except (OSError, UnicodeError, ValueError) as exc:
        raise UrlProblem(
            "webhook_url_unresolvable", "The host name does not resolve.", "Servera nosaukumu nevar atrisināt."
        ) from exc
    if not addresses:
        raise UrlProblem(
            "webhook_url_unresolvable", "The host name does not resolve.", "Servera nosaukumu nevar atrisināt."
        )
    allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
    for addr in addresses:
        if _blocked(addr) and not any(addr in net for net in allowed):
            raise UrlProblem(
                "webhook_url_private",
                "The URL reaches a private, loopback or link-local address.",
                "URL ved uz privātu, lokālu vai saites līmeņa adresi.",
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url.strip(), parts.scheme, host, port, parts.netloc, path, tuple(str(a) for a in addresses))


def check_url(url: str, allowed_networks: Iterable[str] = (), resolve: Resolver = _resolve) -> str:
    """The URL if webhooks may call it (see `resolve_target`); else UrlProblem with a stable code."""
    return resolve_target(url, allowed_networks, resolve).url


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, given: str, now: float | None = None, tolerance: int = 300
) -> bool:
    """What a receiver does: recompute the signature and refuse old timestamps."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), given)


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def post(
    url: str,
    secret: str,
    payload: dict[str, Any],
    *,
    event: str,
    delivery_id: str,
    timeout: float,
    allowed_networks: Iterable[str] = (),
    resolve: Resolver = _resolve,
    ca_certs: str | None = None,
    now: float | None = None,
) -> int:
    """POST a signed payload; the status on 2xx, Unavailable on trouble worth retrying, Refused otherwise.

    The host is resolved once, here: every address is checked (UrlProblem if one is not allowed) and the
    connection goes to a checked address, so a name that resolves differently a moment later (DNS
    rebinding) cannot lead the POST elsewhere. Host header, TLS SNI and the certificate check still use
    the name. `ca_certs` replaces the CA bundle (tests); redirects are not followed.
    """
    target = resolve_target(url, allowed_networks, resolve)
    body = body_of(payload)
    ts = int(now if now is not None else time.time())
    headers = {
        "Host": target.netloc,
        "Content-Type": "application/json",
        "User-Agent": "PuMPuRS-Webhooks/1",
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: signature(secret, ts, body),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }
    trouble: Exception | None = None
    for address in target.addresses:
        pool = _pool(target, address, timeout, ca_certs)
        try:
            resp = pool.urlopen(
                "POST", target.path, body=body, headers=headers, retries=False, redirect=False, assert_same_host=False
            )
        except (NewConnectionError, ConnectTimeoutError) as exc:
            trouble = exc  # this address does not answer: the next checked one may
            continue
        except (HTTPError, OSError) as exc:  # the request may have reached it: this try is over
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            pool.close()
        if 200 <= resp.status < 300:
            return resp.status
        if resp.status >= 500 or resp.status in (408, 425, 429):
            raise Unavailable(f"HTTP {resp.status}", status=resp.status)
        raise Refused(f"HTTP {resp.status}", status=resp.status)
    raise Unavailable(f"{type(trouble).__name__}: {trouble}") from trouble


def _pool(target: Target, address: str, timeout: float, ca_certs: str | None) -> HTTPConnectionPool:
    """A connection pool to one checked address, speaking to the name for TLS."""
    limits = Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        return HTTPSConnectionPool(
            address,
            target.port,
            timeout=limits,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or DEFAULT_CA_BUNDLE_PATH,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return HTTPConnectionPool(address, target.port, timeout=limits, retries=False)
