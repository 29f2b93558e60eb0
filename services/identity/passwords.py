"""Argon2id password hashing, at the cost identity's settings give (one cost per process)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# verified against when the user does not exist, so both paths cost the same time
_dummy = _hasher.hash("not-a-real-password-ever")


def configure(time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Set the cost of new hashes; hashes made at another cost still verify and are rehashed at login."""
    global _hasher, _dummy
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == (time_cost, memory_kib, parallelism):
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _dummy = _hasher.hash("not-a-real-password-ever")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
