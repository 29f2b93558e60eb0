"""Container healthchecks with what the image has (no curl): an HTTP URL, a Celery worker, the scheduler.

python -m services.common.healthcheck http http://127.0.0.1:8000/readyz
python -m services.common.healthcheck worker services.identity.worker identity
python -m services.common.healthcheck scheduler
"""

from __future__ import annotations

import importlib
import socket
import sys
import urllib.request


def http(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310  (our own loopback URL)
        return 0 if resp.status == 200 else 1


def worker(app_module: str, node_prefix: str) -> int:
    """Ping this container's worker node only, so one sick worker does not hide behind others."""
    celery = importlib.import_module(app_module).celery
    node = f"{node_prefix}@{socket.gethostname()}"
    replies = celery.control.ping(destination=[node], timeout=5)
    return 0 if replies else 1


def scheduler() -> int:
    """The scheduler holds the redbeat lock while it runs; the lock expires soon after it stops."""
    import redis

    from .celery_app import REDBEAT_LOCK_KEY
    from .settings import Settings, common_values

    settings = Settings(**common_values("scheduler", database=False))
    client = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=3, socket_timeout=3)
    return 0 if client.exists(REDBEAT_LOCK_KEY) else 1


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["http"]:
            return http(argv[1])
        if argv[:1] == ["worker"]:
            return worker(argv[1], argv[2])
        if argv[:1] == ["scheduler"]:
            return scheduler()
    except Exception as exc:
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
