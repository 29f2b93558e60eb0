"""Celery entry for identity's worker: `celery -A services.identity.worker worker -Q identity`."""

from services.identity.runtime import default_runtime
from services.identity.tasks import register

runtime = default_runtime()
register(runtime)
celery = runtime.celery
