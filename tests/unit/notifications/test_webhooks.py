"""notifications.webhooks: which URLs webhooks may call, and the HMAC signature a receiver checks."""

from __future__ import annotations

import pytest

from services.notifications.webhooks import UrlProblem, body_of, check_url, signature, verify

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
