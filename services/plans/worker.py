"""Celery entry for plans' worker: `celery -A services.plans.worker worker -Q plans`."""

from services.plans.runtime import default_runtime
from services.plans.tasks import register

runtime = default_runtime()
register(runtime)
celery = runtime.celery
