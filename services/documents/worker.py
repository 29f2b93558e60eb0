"""Celery entry for documents' worker: `celery -A services.documents.worker worker -Q documents`."""

from services.documents.runtime import default_runtime
from services.documents.tasks import register

runtime = default_runtime()
register(runtime)
celery = runtime.celery
