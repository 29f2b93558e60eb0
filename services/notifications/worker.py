"""Celery entry for notifications' worker: `celery -A services.notifications.worker worker -Q notifications`."""

from services.notifications.runtime import default_runtime
from services.notifications.tasks import register

runtime = default_runtime()
register(runtime)
celery = runtime.celery
