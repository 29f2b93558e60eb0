"""The message contract: names, queues, schemas (no servers)."""

from __future__ import annotations

import uuid

import pytest
from marshmallow import ValidationError

from services.common.contracts import CONTRACT, Contract, Empty
from services.common.settings import SERVICES

pytestmark = pytest.mark.unit


def test_every_task_names_a_declared_queue_and_has_a_schema_and_version():
    for name, spec in CONTRACT.tasks.items():
        assert spec.service in SERVICES and name.startswith(spec.service + ".")
        assert spec.queue == (f"{spec.service}.long" if spec.long else spec.service)
        assert spec.version >= 1 and spec.schema is not None and spec.description


def test_every_event_fans_out_to_declared_tasks_and_every_schedule_names_a_task():
    for subscribers in CONTRACT.events.values():
        assert subscribers and all(s in CONTRACT.tasks for s in subscribers)
    for task, _seconds in CONTRACT.schedules.values():
        assert task in CONTRACT.tasks


def test_a_payload_with_an_unknown_or_wrong_field_is_refused():
    spec = CONTRACT.get("notifications.sync_user")
    good = {
        "user_id": str(uuid.uuid4()),
        "revision": 1,
        "tenant_id": None,
        "email": "a@b.lv",
        "full_name": "A",
        "language": "lv",
        "active": True,
        "roles": [],
    }
    assert spec.normalise(good)["email"] == "a@b.lv"
    with pytest.raises(ValidationError) as err:
        spec.normalise({**good, "personal_code": "010101-12345", "revision": 0})
    assert set(err.value.messages) == {"personal_code", "revision"}


def test_payloads_carry_no_personal_code_or_token_fields():
    banned = {"personal_code", "personas_kods", "token", "access_token", "password", "bytes", "content"}
    for spec in CONTRACT.tasks.values():
        assert not banned & set(spec.schema().fields), spec.name


def test_a_task_on_an_undeclared_queue_or_declared_twice_is_refused():
    c = Contract(queues=("a",))
    c.task("a.x", version=1, schema=Empty, description="x")
    with pytest.raises(ValueError):
        c.task("a.x", version=1, schema=Empty, description="x")
    with pytest.raises(ValueError):
        c.task("b.y", version=1, schema=Empty, description="y")
    with pytest.raises(ValueError):
        c.event("a.ev", ("a.missing",))
