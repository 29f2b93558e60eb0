"""Celery entry of the probe service: `celery -A tests.support.probe_worker worker -Q probe`."""

from tests.support.probe import make_runtime, register, settings_from_env

runtime = make_runtime(settings_from_env())
register(runtime)
celery = runtime.celery
