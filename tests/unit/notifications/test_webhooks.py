"""notifications.webhooks: which URLs webhooks may call, and the HMAC signature a receiver checks."""

from __future__ import annotations

from typing import Any

import pytest

from services.notifications.webhooks import UrlProblem, body_of, check_url, post, resolve_target, signature, verify

pytestmark = pytest.mark.unit


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


DNS = resolver(
    {
        "hooks.example.lv": ["93.184.216.34"],
        "both.example.lv": ["93.184.216.34", "10.0.0.5"],
        "local.example.lv": ["127.0.0.1"],
        "v6.example.lv": ["2606:4700::1111"],
        "mapped.example.lv": ["::ffff:10.0.0.1"],
    }
)


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.lv/pumpurs", "http://hooks.example.lv:8080/x?y=1", "https://v6.example.lv/"],
)
def test_public_http_and_https_urls_are_accepted(url):
    assert check_url(url, resolve=DNS) == url


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://hooks.example.lv/", "webhook_url_scheme"),
        ("javascript:alert(1)", "webhook_url_scheme"),
        ("hooks.example.lv/x", "webhook_url_scheme"),
        ("https://user:pw@hooks.example.lv/", "webhook_url_credentials"),
        ("https://user@hooks.example.lv/", "webhook_url_credentials"),
        ("https:///path", "webhook_url_invalid"),
        ("https://hooks.example.lv/#frag", "webhook_url_invalid"),
        ("https://hooks.example.lv:99999/", "webhook_url_invalid"),
        ("https://nowhere.example.lv/", "webhook_url_unresolvable"),
        ("https://local.example.lv/", "webhook_url_private"),
        ("https://both.example.lv/", "webhook_url_private"),  # one private address is enough to refuse
        ("https://mapped.example.lv/", "webhook_url_private"),
        ("http://127.0.0.1:9/", "webhook_url_private"),
        ("http://[::1]/", "webhook_url_private"),
        ("http://169.254.169.254/", "webhook_url_private"),
        ("http://100.64.0.1/", "webhook_url_private"),
        ("http://224.0.0.1/", "webhook_url_private"),
    ],
)
def test_bad_urls_are_refused_with_a_stable_code(url, code):
    resolve = resolver({"hooks.example.lv": ["93.184.216.34"], "local.example.lv": ["127.0.0.1"],
                        "both.example.lv": ["93.184.216.34", "10.0.0.5"], "mapped.example.lv": ["::ffff:10.0.0.1"],
                        "127.0.0.1": ["127.0.0.1"], "::1": ["::1"], "169.254.169.254": ["169.254.169.254"],
                        "100.64.0.1": ["100.64.0.1"], "224.0.0.1": ["224.0.0.1"]})  # fmt: skip
    with pytest.raises(UrlProblem) as err:
        check_url(url, resolve=resolve)
    assert err.value.code == code and err.value.detail_lv


def test_a_setting_can_allow_a_private_network():
    assert check_url("http://local.example.lv/", ["127.0.0.0/8"], resolve=DNS) == "http://local.example.lv/"
    with pytest.raises(UrlProblem):
        check_url("https://both.example.lv/", ["127.0.0.0/8"], resolve=DNS)


def test_the_receiver_verifies_the_signature_and_refuses_tampering_and_old_timestamps():
    body = body_of({"kind": "plan_returned", "id": "n-1"})
    sig = signature("whsec_k", 1_800_000_000, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("whsec_k", "1800000000", body, sig, now=1_800_000_010)
    assert not verify("whsec_other", "1800000000", body, sig, now=1_800_000_010)
    assert not verify("whsec_k", "1800000000", body + b" ", sig, now=1_800_000_010)
    assert not verify("whsec_k", "1800000001", body, sig, now=1_800_000_010)  # the timestamp is signed too
    assert not verify("whsec_k", "1800000000", body, sig, now=1_800_000_000 + 301)  # too old: a replay
    assert not verify("whsec_k", "yesterday", body, sig)


def test_a_target_is_resolved_once_with_the_name_kept_for_host_and_tls():
    t = resolve_target("https://v6.example.lv/hook?tenant=a", resolve=DNS)
    assert (t.scheme, t.host, t.port, t.netloc, t.path) == (
        "https",
        "v6.example.lv",
        443,
        "v6.example.lv",
        "/hook?tenant=a",
    )
    assert t.addresses == ("2606:4700::1111",)
    t = resolve_target("http://hooks.example.lv:8080", resolve=DNS)
    assert (t.port, t.netloc, t.path, t.addresses) == (8080, "hooks.example.lv:8080", "/", ("93.184.216.34",))


def _counting(answer: list[str]) -> tuple[list[str], Any]:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answer

    return asked, resolve


@pytest.mark.parametrize("answer", [["10.0.0.5"], ["93.184.216.34", "192.168.1.10"], ["::ffff:127.0.0.1"]])
def test_a_post_to_a_name_resolving_to_a_private_address_is_refused_before_connecting(answer):
    asked, resolve = _counting(answer)
    # if it tried to connect it would fail otherwise (nothing listens there): UrlProblem proves it did not
    with pytest.raises(UrlProblem) as err:
        post("http://hooks.example.lv:9/x", "whsec_k", {}, event="e", delivery_id="d", timeout=0.5, resolve=resolve)
    assert err.value.code == "webhook_url_private" and asked == ["hooks.example.lv"]


def test_a_post_to_a_name_that_does_not_resolve_says_so():
    _, resolve = _counting([])
    with pytest.raises(UrlProblem) as err:
        post("https://hooks.example.lv/x", "whsec_k", {}, event="e", delivery_id="d", timeout=0.5, resolve=resolve)
    assert err.value.code == "webhook_url_unresolvable"


def test_a_webhook_writes_a_month_as_every_api_does():
    """Issue 13: one month form everywhere; a statement's message carries the first day, a webhook says YYYY-MM."""
    import uuid
    from datetime import UTC, datetime

    from services.notifications.delivery import webhook_body
    from services.notifications.models import Notification

    n = Notification(
        id=uuid.uuid4(),
        key="k",
        kind="statement_ready",
        tenant_id=uuid.uuid4(),
        ref_type="statement",
        ref_id="s-1",
        data={"month": "2026-10-01", "total": "12.30"},
        created_at=datetime(2026, 11, 5, tzinfo=UTC),
    )
    assert webhook_body(n)["data"] == {"month": "2026-10", "total": "12.30"}
