"""Webhook secrets at rest: encrypted (Fernet) under `NOTIFICATIONS_WEBHOOK_KEY`, opened only to sign.

Signing needs the secret itself, so it cannot be hashed like a password; a database dump or backup without
the key holds no usable secret.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SealError(Exception):
    """The key is not a Fernet key, or not the one a secret was sealed with."""


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise SealError("NOTIFICATIONS_WEBHOOK_KEY is not a Fernet key (32 url-safe base64 bytes)") from exc


def seal(key: str, secret: str) -> str:
    return _fernet(key).encrypt(secret.encode()).decode()


def open_sealed(key: str, token: str) -> str:
    try:
        return _fernet(key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SealError("the secret was not sealed with NOTIFICATIONS_WEBHOOK_KEY") from exc
