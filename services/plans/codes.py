"""Latvian personal codes: validation (python-stdnum), the keyed hash, encryption at rest, the hint.

A code never leaves this module in clear except to the person who typed it; logs, URLs and messages
carry the student's id or the keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date

from cryptography.fernet import Fernet
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.lv import pvn


@dataclass(frozen=True)
class CodeCheck:
    compact: str  # 11 digits
    birth_date: date | None  # from an old-format code
    warning: str | None  # a new-format checksum mismatch is a warning, not a refusal


class InvalidCode(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_personal_code(raw: str) -> CodeCheck:
    """Validate a personal code: old format (birth date, century, checksum) or new 32-39 format."""
    try:
        compact = pvn.compact(raw)
    except ValidationError as exc:  # pragma: no cover - compact only strips separators
        raise InvalidCode("personal_code_format", "Not a personal code.") from exc
    if len(compact) != 11 or not compact.isdigit():
        raise InvalidCode("personal_code_format", "A personal code has 11 digits (DDMMYY-XXXXX).")
    if compact[0] == "3" and compact[1] in "23456789":
        # new format (from 1 July 2017): no birth date; the law allows 32-39
        if pvn.calc_check_digit_pers(compact[:-1]) != compact[-1]:
            return CodeCheck(compact, None, "personal_code_checksum")
        return CodeCheck(compact, None, None)
    if compact[0] > "3":
        raise InvalidCode("personal_code_format", "This is not a personal code (it looks like a company code).")
    if compact[6] not in "012":  # the century digit: 0 = 1800s, 1 = 1900s, 2 = 2000s
        raise InvalidCode("personal_code_format", "The personal code's century digit is not valid.")
    try:
        pvn.validate(compact)
        born = pvn.get_birth_date(compact)
    except InvalidChecksum as exc:
        raise InvalidCode("personal_code_checksum", "The personal code's check digit is wrong.") from exc
    except ValidationError as exc:
        raise InvalidCode("personal_code_format", "The personal code's date or century is not valid.") from exc
    return CodeCheck(compact, born, None)


def normalise_student_id(raw: str) -> str:
    """A student ID code (for students without a personal code): trimmed, upper case, no spaces."""
    return "".join(raw.split()).upper()


def code_hash(secret: str, kind: str, normalised: str) -> str:
    """The keyed hash used for exact-match search here and for cross-tenant matching in finance."""
    return hmac.new(secret.encode(), f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def encrypt(key: str, normalised: str) -> str:
    return Fernet(key.encode()).encrypt(normalised.encode()).decode()


def decrypt(key: str, token: str) -> str:
    return Fernet(key.encode()).decrypt(token.encode()).decode()


def hint(kind: str, normalised: str) -> str:
    """What a list may show: the birth-date part of an old code, or the first digits of others."""
    if kind == "personal_code":
        return f"{normalised[:6]}-*****"
    return normalised[:3] + "*" * max(0, len(normalised) - 3)
