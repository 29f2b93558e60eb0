"""Identity's own settings, on top of the common ones."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import Settings, common_values, read_env


@dataclass(frozen=True)
class IdentitySettings(Settings):
    access_token_ttl: int = 900  # seconds
    refresh_token_ttl: int = 14 * 24 * 3600
    lockout_threshold: int = 5  # failed logins in a row before the account locks
    lockout_seconds: int = 900
    password_min_length: int = 12
    # a retired signing key stays in the JWKS until every token it signed has expired
    key_retire_grace: int = 60
    # argon2id cost (RFC 9106 / OWASP: time 3, 64 MiB, 4 lanes); a changed cost rehashes at the next login
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    password_parallelism: int = 4
    # failed logins and refreshes allowed per window (seconds), counted in Redis across every replica
    login_limit_per_address: int = 50
    login_limit_per_account: int = 10
    refresh_limit_per_address: int = 60
    rate_limit_window: int = 300
    # one-time account links: an invitation to set the first password, a password reset (seconds)
    invitation_ttl: int = 7 * 24 * 3600
    password_reset_ttl: int = 3600
    # reset requests allowed per window, per client address and per e-mail asked for (every request counts)
    reset_limit_per_address: int = 20
    reset_limit_per_account: int = 3
    # the platform secret account links are derived from, shared with notifications (services/common/account_links)
    account_link_secret: str = ""


def load_identity_settings() -> IdentitySettings:
    env = read_env()
    values = common_values("identity", env)
    return IdentitySettings(
        **values,
        access_token_ttl=env.int("IDENTITY_ACCESS_TOKEN_TTL", 900),
        refresh_token_ttl=env.int("IDENTITY_REFRESH_TOKEN_TTL", 14 * 24 * 3600),
        lockout_threshold=env.int("IDENTITY_LOCKOUT_THRESHOLD", 5),
        lockout_seconds=env.int("IDENTITY_LOCKOUT_SECONDS", 900),
        password_min_length=env.int("IDENTITY_PASSWORD_MIN_LENGTH", 12),
        key_retire_grace=env.int("IDENTITY_KEY_RETIRE_GRACE", 60),
        password_time_cost=env.int("IDENTITY_PASSWORD_TIME_COST", 3),
        password_memory_kib=env.int("IDENTITY_PASSWORD_MEMORY_KIB", 65536),
        password_parallelism=env.int("IDENTITY_PASSWORD_PARALLELISM", 4),
        login_limit_per_address=env.int("IDENTITY_LOGIN_LIMIT_PER_ADDRESS", 50),
        login_limit_per_account=env.int("IDENTITY_LOGIN_LIMIT_PER_ACCOUNT", 10),
        refresh_limit_per_address=env.int("IDENTITY_REFRESH_LIMIT_PER_ADDRESS", 60),
        rate_limit_window=env.int("IDENTITY_RATE_LIMIT_WINDOW", 300),
        invitation_ttl=env.int("IDENTITY_INVITATION_TTL", 7 * 24 * 3600),
        password_reset_ttl=env.int("IDENTITY_PASSWORD_RESET_TTL", 3600),
        reset_limit_per_address=env.int("IDENTITY_RESET_LIMIT_PER_ADDRESS", 20),
        reset_limit_per_account=env.int("IDENTITY_RESET_LIMIT_PER_ACCOUNT", 3),
        account_link_secret=env.str("ACCOUNT_LINK_SECRET"),
    )
