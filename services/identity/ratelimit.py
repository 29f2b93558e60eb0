"""Failed logins and refreshes counted in Redis, shared by every API replica: per client address and
per account name tried (whether or not an account has it), each in a fixed window that opens with its
first failure.

An attempt is counted before the password is hashed (argon2 is the expensive part) and given back
when it succeeds, so only failures use up a limit and concurrent attempts cannot slip past it. E-mails
no account has are also locked after as many failures as a real account, so neither the 401 nor the
423 tells which e-mails exist. Keys hold hashes, never an address or an e-mail in clear.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass

import redis
import structlog

from services.common.errors import ApiError

from .settings import IdentitySettings

log = structlog.get_logger(__name__)

PREFIX = "pumpurs:ratelimit:"


@dataclass(frozen=True)
class Limit:
    scope: str  # what is counted: login-address, login-account, refresh-address
    count: int  # failures allowed per window
    window: int  # seconds


def too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too_many_attempts",
        "Too many failed attempts; wait before trying again.",
        title="Too many attempts",
        title_lv="Pārāk daudz mēģinājumu",
        detail_lv="Pārāk daudz neveiksmīgu mēģinājumu; pagaidiet, pirms mēģināt vēlreiz.",
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )


def client_key(address: str | None) -> str:
    """The client as counted: an IPv4 address, or the /64 an IPv6 client holds whole."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def account_key(email: str) -> str:
    return email.strip().lower()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


# each key counts failures in a window that starts with its first one: INCR, and the key's end set then
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  local used = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[i])
    ttl = tonumber(ARGV[i])
  end
  out[i] = {used, ttl}
end
return out
"""
# giving an attempt back never brings a key back to life after its window ended, and a key back at
# nothing goes (a successful login leaves no trace)
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0
"""


class RateLimiter:
    """Counts in Redis; when Redis cannot be reached the limits are not applied (and that is logged)."""

    def __init__(self, client: redis.Redis, settings: IdentitySettings) -> None:
        self.client = client
        window = settings.rate_limit_window
        self.login_address = Limit("login-address", settings.login_limit_per_address, window)
        self.login_account = Limit("login-account", settings.login_limit_per_account, window)
        self.refresh_address = Limit("refresh-address", settings.refresh_limit_per_address, window)
        self.reset_address = Limit("reset-address", settings.reset_limit_per_address, window)
        self.reset_account = Limit("reset-account", settings.reset_limit_per_account, window)
        # a wrong link secret counts like a wrong refresh token: per address
        self.link_address = Limit("link-address", settings.refresh_limit_per_address, window)
        self.lockout_threshold = settings.lockout_threshold
        self.lockout_seconds = settings.lockout_seconds
        self._count = client.register_script(_COUNT)
        self._give_back_script = client.register_script(_GIVE_BACK)

    def attempt(self, counted: list[tuple[Limit, str]]) -> Attempt:
        """Count one attempt against each limit; raise 429 when any is used up (the attempt not made)."""
        keys = [f"{PREFIX}{limit.scope}:{_digest(subject)}" for limit, subject in counted]
        try:
            results = self._count(keys=keys, args=[limit.window * 1000 for limit, _ in counted])
        except redis.RedisError:
            log.warning("rate_limit_unavailable", exc_info=True)
            return Attempt(self, [])
        waits = [
            math.ceil(int(ttl) / 1000)
            for (limit, _), (used, ttl) in zip(counted, results, strict=True)
            if int(used) > limit.count
        ]
        if waits:
            self._give_back(keys)  # a refused attempt was not made: it counts against nothing
            raise too_many(max(1, *waits))
        return Attempt(self, keys)

    def _give_back(self, keys: list[str]) -> None:
        try:
            self._give_back_script(keys=keys)
        except redis.RedisError:
            log.warning("rate_limit_unavailable", exc_info=True)

    def login(self, address: str | None, email: str) -> Attempt:
        return self.attempt([(self.login_address, client_key(address)), (self.login_account, account_key(email))])

    def refresh(self, address: str | None) -> Attempt:
        return self.attempt([(self.refresh_address, client_key(address))])

    def reset(self, address: str | None, email: str) -> Attempt:
        """A password-reset request: every one counts (never given back), whether the e-mail exists or not."""
        return self.attempt([(self.reset_address, client_key(address)), (self.reset_account, account_key(email))])

    def link(self, address: str | None) -> Attempt:
        return self.attempt([(self.link_address, client_key(address))])

    # ---- e-mails no account has: locked like an account, so a lockout tells nothing --------------

    def unknown_locked_for(self, email: str) -> int | None:
        """Seconds an e-mail without an account stays locked, or None."""
        try:
            ms = int(self.client.pttl(f"{PREFIX}unknown-locked:{_digest(account_key(email))}"))  # type: ignore[arg-type]
        except redis.RedisError:
            return None
        return ms // 1000 + 1 if ms > 0 else None

    def unknown_failed(self, email: str) -> None:
        """One more failure for an e-mail without an account; at the threshold it locks like an account."""
        digest = _digest(account_key(email))
        failures, locked = f"{PREFIX}unknown-failures:{digest}", f"{PREFIX}unknown-locked:{digest}"
        try:
            pipe = self.client.pipeline()
            pipe.incr(failures)
            pipe.expire(failures, 24 * 3600)  # "in a row": until a quiet day passes
            count = int(pipe.execute()[0])
            if count >= self.lockout_threshold:
                pipe = self.client.pipeline()
                pipe.set(locked, "1", ex=self.lockout_seconds)
                pipe.delete(failures)
                pipe.execute()
        except redis.RedisError:
            log.warning("rate_limit_unavailable", exc_info=True)


class Attempt:
    """One counted attempt; `succeeded()` gives it back, so only failures use up the limits."""

    def __init__(self, limiter: RateLimiter, keys: list[str]) -> None:
        self.limiter = limiter
        self.keys = keys

    def succeeded(self) -> None:
        if self.keys:
            self.limiter._give_back(self.keys)
            self.keys = []
