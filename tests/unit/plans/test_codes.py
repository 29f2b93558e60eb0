"""Personal codes: validation with python-stdnum, the keyed hash, encryption at rest, the hint (no servers)."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.fernet import Fernet, InvalidToken

from services.plans import codes

pytestmark = pytest.mark.unit

MINOR_CODE = "140312-21007"
ADULT_CODE = "010190-11004"
NEW_FORMAT_CODE = "32123456785"
NEW_FORMAT_BAD_CHECK = "32123456784"


@pytest.mark.parametrize(
    ("raw", "compact", "born"),
    [
        (MINOR_CODE, "14031221007", date(2012, 3, 14)),
        ("14031221007", "14031221007", date(2012, 3, 14)),
        (" 140312 21007 ", "14031221007", date(2012, 3, 14)),
        (ADULT_CODE, "01019011004", date(1990, 1, 1)),
    ],
)
def test_an_old_format_code_gives_its_birth_date(raw: str, compact: str, born: date) -> None:
    check = codes.check_personal_code(raw)
    assert (check.compact, check.birth_date, check.warning) == (compact, born, None)


def test_a_new_format_code_has_no_birth_date_and_a_bad_check_digit_is_only_a_warning() -> None:
    assert codes.check_personal_code(NEW_FORMAT_CODE) == codes.CodeCheck(NEW_FORMAT_CODE, None, None)
    warned = codes.check_personal_code(NEW_FORMAT_BAD_CHECK)
    assert (warned.compact, warned.birth_date, warned.warning) == (NEW_FORMAT_BAD_CHECK, None, "personal_code_checksum")
    for prefix in "23456789":  # the law allows 32-39
        assert codes.check_personal_code(f"3{prefix}123456785").birth_date is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("140312-21008", "personal_code_checksum"),  # old format: the check digit is a refusal
        ("40003245752", "personal_code_format"),  # a company's registration number
        ("90000051525", "personal_code_format"),  # a municipality's
        ("140312", "personal_code_format"),
        ("1403122100", "personal_code_format"),
        ("140312-2100A", "personal_code_format"),
        ("300212-21003", "personal_code_format"),  # 30 February, with a right check digit
    ],
)
def test_a_code_that_is_not_a_personal_code_is_refused_with_its_reason(raw: str, code: str) -> None:
    with pytest.raises(codes.InvalidCode) as caught:
        codes.check_personal_code(raw)
    assert caught.value.code == code
    assert raw.replace("-", "") not in str(caught.value)  # the message never repeats the code


def test_the_hash_is_keyed_stable_and_separates_kinds() -> None:
    h = codes.code_hash("secret", "personal_code", "14031221007")
    assert h == codes.code_hash("secret", "personal_code", "14031221007")
    assert len(h) == 64 and "14031221007" not in h
    assert h != codes.code_hash("other-secret", "personal_code", "14031221007")
    assert h != codes.code_hash("secret", "student_id", "14031221007")


def test_a_code_is_encrypted_so_only_the_key_reads_it() -> None:
    key, other = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = codes.encrypt(key, "14031221007")
    assert "14031221007" not in token
    assert token != codes.encrypt(key, "14031221007")  # a fresh nonce each time
    assert codes.decrypt(key, token) == "14031221007"
    with pytest.raises(InvalidToken):
        codes.decrypt(other, token)


def test_the_hint_shows_the_birth_date_part_or_the_first_characters() -> None:
    assert codes.hint("personal_code", "14031221007") == "140312-*****"
    assert codes.hint("student_id", "AB1234") == "AB1***"
    assert codes.hint("student_id", "AB") == "AB"
    assert codes.normalise_student_id(" ab 12\t34 ") == "AB1234"
