"""A Celery worker whose one task does nothing: the baseline's bare round trips on the services' broker.

    celery -A bench.echo_worker worker -Q bench-echo -c 2 --without-gossip --without-mingle

Configured like the services' workers (services/common/celery_app.py: JSON, late acks, prefetch 1), except
that the task stores its result, so a caller can wait for the round trip to end.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from kombu import Queue

QUEUE = "bench-echo"
TASK = "bench.echo"


def make_app(broker_url: str) -> Celery:
    app = Celery("bench-echo", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_queues=[Queue(QUEUE, routing_key=QUEUE)],
        task_default_queue=QUEUE,
        task_ignore_result=False,
        result_expires=600,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        enable_utc=True,
    )
    return app


celery = make_app(os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))


@celery.task(name=TASK)
def echo(value: Any) -> Any:
    """Return what was sent."""
    return value
