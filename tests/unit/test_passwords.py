"""Password hashing at a configurable cost: old hashes keep verifying and are marked for a rehash."""

from __future__ import annotations

import pytest

from services.identity import passwords

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore_cost():
    h = passwords._hasher
    yield
    passwords.configure(h.time_cost, h.memory_cost, h.parallelism)


def test_a_hash_made_at_another_cost_verifies_and_needs_a_rehash():
    passwords.configure(1, 1024, 1)
    cheap = passwords.hash_password("correct horse battery")
    assert "m=1024,t=1,p=1" in cheap
    assert not passwords.needs_rehash(cheap)

    passwords.configure(2, 2048, 1)
    assert passwords.verify_password(cheap, "correct horse battery")
    assert not passwords.verify_password(cheap, "wrong horse battery")
    assert passwords.needs_rehash(cheap)
    assert "m=2048,t=2,p=1" in passwords.hash_password("correct horse battery")


def test_no_user_is_verified_against_the_dummy_hash_at_any_cost():
    passwords.configure(1, 1024, 1)
    assert not passwords.verify_password(None, "not-a-real-password-ever")
    assert "m=1024,t=1,p=1" in passwords._dummy
