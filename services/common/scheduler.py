"""The one scheduler (celery-redbeat, so two schedulers cannot double-fire): sends contract schedules.

Run: `celery -A services.common.scheduler beat -S services.common.beat:SteadyScheduler`.
"""

from __future__ import annotations

from celery import Celery

from .celery_app import make_celery
from .contracts import CONTRACT, Contract
from .logging import configure_logging
from .settings import Settings, common_values


def make_scheduler(contract: Contract = CONTRACT) -> Celery:
    settings = Settings(**common_values("scheduler", database=False))
    configure_logging("scheduler", settings.log_format, settings.log_level)
    app = make_celery(settings.replace(service=contract.queues[0]), contract)
    app.conf.beat_schedule = {
        entry: {
            "task": task,
            "schedule": seconds,
            "kwargs": {"message": {"name": task, "version": contract.get(task).version, "payload": {}}},
            "options": {"queue": contract.get(task).queue},
        }
        for entry, (task, seconds) in contract.schedules.items()
    }
    return app


celery = make_scheduler()
