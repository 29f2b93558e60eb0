"""The platform's scheduler on the probe's contract: `celery -A tests.support.probe_scheduler beat`."""

from services.common.scheduler import make_scheduler
from tests.support.probe import CONTRACT

celery = make_scheduler(CONTRACT)
