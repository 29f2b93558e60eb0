"""The portal's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.settings import SERVICES, read_env


@dataclass(frozen=True)
class PortalSettings:
    # each service's API as the portal reaches it (inside compose: http://<service>-api:8000)
    service_urls: dict[str, str]
    redis_url: str
    secret_key: str
    # the address people open (links in e-mails point here too)
    public_url: str = "http://127.0.0.1:8000"
    # cookies only over HTTPS; off in the local run, which serves plain http on loopback
    secure_cookies: bool = True
    # a signed-in session ends after this long without a request (seconds)
    session_idle_seconds: int = 8 * 3600
    # the APIs: connect and read timeouts (seconds), and how many calls of one page run at once
    api_connect_timeout: float = 2.0
    api_read_timeout: float = 15.0
    api_workers: int = 8
    # behind the gateway: trust X-Forwarded-* from the one proxy in front
    behind_proxy: bool = False
    log_format: str = "json"
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)


def load_portal_settings() -> PortalSettings:
    env = read_env()
    urls = {}
    for svc in SERVICES:
        prefix = svc.upper()
        default = env.str(f"{prefix}_PUBLIC_URL", "")
        urls[svc] = env.str(f"{prefix}_API_URL", default).rstrip("/")
    return PortalSettings(
        service_urls=urls,
        redis_url=env.str("PORTAL_REDIS_URL", env.str("REDIS_URL", "redis://127.0.0.1:6379/0")),
        secret_key=env.str("PORTAL_SECRET_KEY"),
        public_url=env.str("PORTAL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        secure_cookies=env.bool("PORTAL_SECURE_COOKIES", True),
        session_idle_seconds=env.int("PORTAL_SESSION_IDLE_SECONDS", 8 * 3600),
        api_connect_timeout=env.float("PORTAL_API_CONNECT_TIMEOUT", 2.0),
        api_read_timeout=env.float("PORTAL_API_READ_TIMEOUT", 15.0),
        api_workers=env.int("PORTAL_API_WORKERS", 8),
        behind_proxy=env.bool("BEHIND_PROXY", False),
        log_format=env.str("LOG_FORMAT", "json"),
        log_level=env.str("LOG_LEVEL", "INFO"),
    )
