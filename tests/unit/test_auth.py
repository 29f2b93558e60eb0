"""Token verification and the principal, with keys made here (no servers)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.auth import Grant, Principal, TokenVerifier
from services.common.errors import Unauthenticated

pytestmark = pytest.mark.unit

ISS, AUD = "https://identity.test", "pumpurs"


def _key() -> tuple[str, object]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, private.public_key()


PEM, PUBLIC = _key()
OTHER_PEM, _ = _key()


def _verifier(revoked: set[str] | None = None) -> TokenVerifier:
    keys = {"k1": PUBLIC}

    def source(kid: str) -> object:
        if kid not in keys:
            raise Unauthenticated("unknown key", code="invalid_token")
        return keys[kid]

    return TokenVerifier(source, ISS, AUD, is_revoked=(lambda sid: sid in (revoked or set())))


def _token(pem: str = PEM, kid: str = "k1", alg: str = "RS256", **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "iss": ISS,
        "aud": AUD,
        "sub": "u1",
        "iat": now,
        "exp": now + 60,
        "typ": "access",
        "sid": "s1",
        "tenant_id": "t1",
        "roles": [{"role": "director", "tenant_id": "t1", "school_id": "sc1"}],
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, pem, algorithm=alg, headers={"kid": kid})


def test_a_valid_token_gives_the_principal_with_its_grants():
    p = Principal.from_claims(_verifier().verify(_token()))
    assert p.user_id == "u1" and p.tenant_id == "t1" and p.session_id == "s1"
    assert p.grants == (Grant("director", tenant_id="t1", school_id="sc1"),)
    assert p.has_role("director") and not p.is_platform_admin


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (lambda: _token(exp=int(time.time()) - 120, iat=int(time.time()) - 400), "token_expired"),
        (lambda: _token(iss="https://evil.test"), "invalid_token"),
        (lambda: _token(aud="someone-else"), "invalid_token"),
        (lambda: _token(pem=OTHER_PEM), "invalid_token"),
        (lambda: _token(kid="unknown"), "invalid_token"),
        (lambda: _token(typ="refresh"), "invalid_token"),
        (lambda: _token(sub=None), "invalid_token"),
        (
            lambda: jwt.encode(
                {"sub": "u1"}, "secret-secret-secret-secret-32b!", algorithm="HS256", headers={"kid": "k1"}
            ),
            "invalid_token",
        ),
        (lambda: "not.a.token", "invalid_token"),
        (lambda: jwt.encode({"sub": "u1", "iss": ISS, "aud": AUD}, None, algorithm="none"), "invalid_token"),
    ],
    ids=[
        "expired",
        "other-issuer",
        "other-audience",
        "forged",
        "unknown-kid",
        "not-access",
        "no-subject",
        "hs256",
        "garbage",
        "alg-none",
    ],
)
def test_a_bad_token_is_refused_with_a_code(token, code):
    with pytest.raises(Unauthenticated) as err:
        _verifier().verify(token())
    assert err.value.code == code
    assert err.value.status == 401


def test_a_token_of_a_revoked_session_is_refused():
    with pytest.raises(Unauthenticated) as err:
        _verifier(revoked={"s1"}).verify(_token())
    assert err.value.code == "session_revoked"


def test_region_grants_reach_the_tenants_of_their_region_only():
    p = Principal("u", None, "kurzeme", (Grant("regional_coordinator", region="kurzeme"),))
    assert p.can_see_tenant("t1", "kurzeme")
    assert not p.can_see_tenant("t2", "latgale")
    assert p.regions() == {"kurzeme"}
