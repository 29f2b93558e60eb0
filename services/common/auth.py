"""RS256 token verification against a JWKS, the current principal, and role guards."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt
import requests
from flask import g, request

from .errors import Forbidden, Unauthenticated

# Roles of DOMAIN.md, "Who uses it"; `teacher` marks who may prepare a plan in a school.
PLATFORM_ADMIN = "platform_admin"
REGIONAL_COORDINATOR = "regional_coordinator"
MUNICIPALITY_COORDINATOR = "municipality_coordinator"
SCHOOL_COORDINATOR = "school_coordinator"
ACCOUNTANT = "accountant"
DIRECTOR = "director"
PLAN_PREPARER = "plan_preparer"
SUPPORT_PROVIDER = "support_provider"
TEACHER = "teacher"
AUDITOR = "auditor"
ROLES = (
    PLATFORM_ADMIN,
    REGIONAL_COORDINATOR,
    MUNICIPALITY_COORDINATOR,
    SCHOOL_COORDINATOR,
    ACCOUNTANT,
    DIRECTOR,
    PLAN_PREPARER,
    SUPPORT_PROVIDER,
    TEACHER,
    AUDITOR,
)
REGIONS = ("kurzeme", "latgale", "riga", "vidzeme", "zemgale")


@dataclass(frozen=True)
class Grant:
    """One role held in one scope: everywhere, a region, a tenant, or a school of a tenant."""

    role: str
    tenant_id: str | None = None
    school_id: str | None = None
    region: str | None = None

    def as_claim(self) -> dict[str, str]:
        claim = {"role": self.role}
        for key in ("tenant_id", "school_id", "region"):
            if getattr(self, key):
                claim[key] = getattr(self, key)
        return claim


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their tenant and region, and the roles they hold."""

    user_id: str
    tenant_id: str | None
    region: str | None
    grants: tuple[Grant, ...]
    session_id: str | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        grants = tuple(
            Grant(
                role=str(c["role"]),
                tenant_id=c.get("tenant_id"),
                school_id=c.get("school_id"),
                region=c.get("region"),
            )
            for c in claims.get("roles", [])
        )
        return cls(
            user_id=str(claims["sub"]),
            tenant_id=claims.get("tenant_id"),
            region=claims.get("region"),
            grants=grants,
            session_id=claims.get("sid"),
        )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(g.role for g in self.grants)

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.roles

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def grants_of(self, *roles: str) -> list[Grant]:
        return [g for g in self.grants if g.role in roles]

    def regions(self) -> frozenset[str]:
        """Regions this principal reads whole (regional coordinators, regional auditors)."""
        return frozenset(g.region for g in self.grants if g.region and not g.tenant_id)

    def tenant_ids(self) -> frozenset[str]:
        return frozenset(g.tenant_id for g in self.grants if g.tenant_id)

    def school_ids(self, *roles: str) -> frozenset[str]:
        return frozenset(g.school_id for g in self.grants if g.school_id and (not roles or g.role in roles))

    def can_see_tenant(self, tenant_id: str, tenant_region: str | None = None) -> bool:
        """Whether any grant reaches this tenant: platform-wide, its region, or the tenant itself."""
        if self.is_platform_admin:
            return True
        if tenant_region and tenant_region in self.regions():
            return True
        return tenant_id in self.tenant_ids()


KeySource = Callable[[str], Any]  # kid -> public key


class JwksKeySource:
    """Public keys fetched from a JWKS URL, cached, refetched when an unknown kid appears."""

    def __init__(self, url: str, cache_seconds: int = 300, timeout: float = 3.0) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        resp = requests.get(self.url, timeout=self.timeout)
        resp.raise_for_status()
        keys = {}
        for jwk in resp.json().get("keys", []):
            if jwk.get("kty") == "RSA" and jwk.get("kid"):
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
        self._keys = keys
        self._fetched_at = time.monotonic()

    def __call__(self, kid: str) -> Any:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self.cache_seconds
            # an unknown kid after a rotation refetches, but at most every few seconds
            recent = time.monotonic() - self._fetched_at < 5
            if stale or (kid not in self._keys and not recent):
                try:
                    self._refresh()
                except requests.RequestException as exc:
                    if not self._keys:
                        raise Unauthenticated("The token keys cannot be fetched now.") from exc
            key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("The token was signed by an unknown key.", code="invalid_token")
        return key


class TokenVerifier:
    """Verify RS256 access tokens: signature by kid, issuer, audience, expiry."""

    def __init__(
        self,
        key_source: KeySource,
        issuer: str,
        audience: str,
        leeway: int = 10,
        is_revoked: Callable[[str | None], bool] | None = None,
    ) -> None:
        self.key_source = key_source
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.is_revoked = is_revoked

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The token is malformed.", code="invalid_token") from exc
        if header.get("alg") != "RS256" or not header.get("kid"):
            raise Unauthenticated("Only RS256 tokens with a key id are accepted.", code="invalid_token")
        key = self.key_source(str(header["kid"]))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The token is not valid here.", code="invalid_token") from exc
        if claims.get("typ") != "access":
            raise Unauthenticated("Not an access token.", code="invalid_token")
        if self.is_revoked is not None and self.is_revoked(claims.get("sid")):
            raise Unauthenticated("The session was ended.", code="session_revoked")
        return claims


def public(view: F) -> F:
    """Mark a view as reachable without a token (login, JWKS, health); every other view needs one."""
    view._public = True  # type: ignore[attr-defined]
    return view


# flask-smorest's docs and our docs assets are public too
_PUBLIC_PREFIXES = ("api-docs.", "_docs_assets")


def view_of(app: Any, endpoint: str | None) -> Any:
    """The function that answers this request's method at `endpoint` (a MethodView's method), or None."""
    view = app.view_functions.get(endpoint) if endpoint else None
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, request.method.lower(), None)
    return view


def _is_public(app: Any, endpoint: str | None) -> bool:
    if endpoint is None:  # no route matched: let the 404 answer
        return True
    if endpoint.startswith(_PUBLIC_PREFIXES) or endpoint == "static":
        return True
    return bool(getattr(view_of(app, endpoint), "_public", False))


def install_authentication(app: Any, verifier: TokenVerifier) -> None:
    """Read the bearer token of every request; refuse with 401 before any parsing unless the view is public."""
    app.extensions["token_verifier"] = verifier

    @app.before_request
    def _load_principal() -> None:
        g.principal = None
        g.auth_error = None
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                g.auth_error = Unauthenticated("Use a Bearer token.", code="invalid_token")
            else:
                try:
                    g.principal = Principal.from_claims(verifier.verify(token.strip()))
                except Unauthenticated as exc:
                    g.auth_error = exc
        if g.principal is None and request.method != "OPTIONS" and not _is_public(app, request.endpoint):
            raise g.auth_error or Unauthenticated()


def current_principal() -> Principal:
    """The authenticated caller, or 401."""
    principal = g.get("principal")
    if principal is None:
        raise g.get("auth_error") or Unauthenticated()
    return principal


F = TypeVar("F", bound=Callable[..., Any])


def require_roles(*roles: str) -> Callable[[F], F]:
    """Let the view run only for a principal holding one of `roles` (any role when none given)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if roles and not principal.has_role(*roles):
                raise Forbidden()
            return view(*args, **kwargs)

        wrapper._required_roles = roles  # type: ignore[attr-defined]  # read by the docs and tests
        return wrapper  # type: ignore[return-value]

    return decorator


def require_auth(view: F) -> F:
    return require_roles()(view)


def has_any(principal: Principal, roles: Iterable[str]) -> bool:
    return principal.has_role(*roles)
