"""Who a rate limit counts: the client address as the limiter sees it (no servers)."""

from __future__ import annotations

import pytest

from services.identity.ratelimit import account_key, client_key

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("address", "counted"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # an IPv4 client seen through an IPv6 socket
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # an IPv6 client holds its whole /64
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        (None, "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_the_client_is_its_address_or_its_ipv6_64(address, counted):
    assert client_key(address) == counted


def test_an_e_mail_is_counted_however_it_is_typed():
    assert account_key("  Anna.Berzina@Ugale.LV ") == account_key("anna.berzina@ugale.lv")
