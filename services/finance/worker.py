"""Celery entry for finance's worker: `celery -A services.finance.worker worker -Q finance`."""

from services.finance.runtime import default_runtime
from services.finance.tasks import register

runtime = default_runtime()
register(runtime)
celery = runtime.celery
