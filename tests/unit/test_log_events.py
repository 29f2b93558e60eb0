"""Log lines a person can match to what a user reports: ids are never masked, what looks like a personal code is,
and a traceback a worker or the scheduler prints is one JSON event (no servers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.common.logging import mask_personal_codes
from tests.conftest import REPO

pytestmark = pytest.mark.unit

IDS = [
    "3da72118071f45362950ec1584033",  # a request id with a personal-code-shaped run of digits inside
    "9f3c2a10-0101-4a12-8b45-010101123456",  # a UUID
    "b3a2c1d4e5f60101011234567890abcd",  # uuid hex
    "90000051525",  # a registration number (no day is 90)
    "task-01010112345",  # an id with a prefix
]


@pytest.mark.parametrize("value", IDS)
def test_ids_are_never_masked(value):
    event = mask_personal_codes(None, "info", {"event": "document_stored", "request_id": value, "ids": [value]})
    assert event["request_id"] == value and event["ids"] == [value]


@pytest.mark.parametrize("code", ["010101-12345", "01010112345", "32123456789", "321234-56789", "311299-21234"])
def test_what_looks_like_a_personal_code_is_masked_wherever_it_stands_alone(code):
    text = f'kods {code}, (kods:{code}) "{code}" kods_{code}'
    event = mask_personal_codes(None, "info", {"event": text, "nested": {"list": [code]}})
    assert code not in json.dumps(event)


# as `celery worker` and `celery beat` start: the service's logging, then stdout/stderr redirected to the log
SCRIPT = """
import logging
from services.identity.worker import celery as app
app.log.setup(loglevel="INFO", redirect_stdouts=True, redirect_level="WARNING")
logging.getLogger("services.test").warning("document_stored", extra={})
print("a line someone printed")
def fetch(rows):
    return rows["missing"] + rows["other"]
try:
    fetch({"other": 1})
except KeyError as exc:
    raise RuntimeError("the check failed for 3da72118071f45362950ec1584033") from exc
"""


def test_a_traceback_a_worker_prints_is_one_json_event_with_the_whole_traceback(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "IDENTITY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",  # nothing connects
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "ACCOUNT_LINK_SECRET": "unit-test-account-link-secret",  # identity refuses to start without it
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    script = tmp_path / "worker_crash.py"  # a file, so the traceback shows its source lines and their carets
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is one JSON event
    assert [e["event"] for e in events if e["event"] == "a line someone printed"] == ["a line someone printed"]
    # one event per exception of the chain, each with its traceback
    [cause, crash] = [e for e in events if "exception" in e]
    assert cause["event"] == "KeyError: 'missing'" and cause["level"] == "error"
    assert cause["exception"].startswith("Traceback (most recent call last):")
    assert 'rows["missing"]' in cause["exception"] and "^^^^" in cause["exception"]
    assert crash["event"] == "RuntimeError: the check failed for 3da72118071f45362950ec1584033"
    assert crash["exception"].startswith("The above exception was the direct cause of the following exception:")
    assert crash["exception"].endswith(crash["event"]) and crash["level"] == "error"
    assert not [e for e in events if e["event"].strip("^~ ") == "" or e["event"].startswith(("Traceback", "  File"))]
