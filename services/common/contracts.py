"""The message contract: every task name, its version, its queue and its payload schema.

Services talk only through these messages. A payload carries ids and the facts the receiver needs,
never a token, a personal code or file bytes. Producers send by name; receivers validate again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .auth import REGIONS, ROLES
from .settings import SERVICES


class Payload(Schema):
    """Base of every payload schema: unknown fields are an error, on send and on receive."""

    class Meta:
        unknown = RAISE


@dataclass(frozen=True)
class TaskContract:
    name: str
    version: int
    queue: str
    schema: type[Schema]
    description: str

    def load(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Validate a payload and return it typed (raises marshmallow.ValidationError)."""
        return self.schema().load(payload)

    def normalise(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Validate a payload and return its JSON-ready form."""
        schema = self.schema()
        return schema.dump(schema.load(payload))


@dataclass
class Contract:
    """A registry of tasks and of events (an event fans out to one task per subscriber)."""

    queues: tuple[str, ...]
    tasks: dict[str, TaskContract] = field(default_factory=dict)
    events: dict[str, tuple[str, ...]] = field(default_factory=dict)
    schedules: dict[str, tuple[str, float]] = field(default_factory=dict)

    def task(self, name: str, *, version: int, schema: type[Schema], description: str) -> TaskContract:
        queue = name.split(".", 1)[0]
        if queue not in self.queues:
            raise ValueError(f"task {name} names no declared queue")
        if name in self.tasks:
            raise ValueError(f"task {name} declared twice")
        spec = TaskContract(name, version, queue, schema, description)
        self.tasks[name] = spec
        return spec

    def event(self, name: str, subscribers: tuple[str, ...]) -> None:
        for sub in subscribers:
            if sub not in self.tasks:
                raise ValueError(f"event {name}: subscriber {sub} is not a declared task")
        self.events[name] = subscribers

    def schedule(self, entry: str, task: str, every_seconds: float) -> None:
        """Have the scheduler send `task` (with an empty payload) every so many seconds."""
        self.get(task)
        self.schedules[entry] = (task, every_seconds)

    def get(self, name: str) -> TaskContract:
        try:
            return self.tasks[name]
        except KeyError:
            raise KeyError(f"{name} is not in the message contract") from None

    def targets(self, name: str) -> list[TaskContract]:
        """The tasks a message name reaches: itself, or every subscriber of an event."""
        if name in self.events:
            return [self.tasks[t] for t in self.events[name]]
        return [self.get(name)]


__all__ = ["CONTRACT", "Contract", "Payload", "TaskContract", "ValidationError"]

CONTRACT = Contract(queues=SERVICES)

# ---- identity -> read models elsewhere ---------------------------------------------------------


class GrantPayload(Payload):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    tenant_id = fields.UUID(load_default=None, allow_none=True)
    school_id = fields.UUID(load_default=None, allow_none=True)
    region = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(REGIONS))


class UserChanged(Payload):
    """A user's current state; a read model replaces what it holds when `revision` is newer."""

    user_id = fields.UUID(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    tenant_id = fields.UUID(load_default=None, allow_none=True)
    email = fields.Email(required=True)
    full_name = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(["lv", "en"]))
    active = fields.Boolean(required=True)
    roles = fields.List(fields.Nested(GrantPayload), required=True)


class SchoolPayload(Payload):
    school_id = fields.UUID(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["general", "vocational"]))
    student_count = fields.Integer(required=True, validate=validate.Range(min=0))
    active = fields.Boolean(required=True)


class TenantChanged(Payload):
    tenant_id = fields.UUID(required=True)
    revision = fields.Integer(required=True, validate=validate.Range(min=1))
    kind = fields.String(required=True, validate=validate.OneOf(["municipality", "vocational_school"]))
    name = fields.String(required=True)
    region = fields.String(required=True, validate=validate.OneOf(REGIONS))
    student_count = fields.Integer(required=True, validate=validate.Range(min=0))
    active = fields.Boolean(required=True)
    schools = fields.List(fields.Nested(SchoolPayload), required=True)


class Empty(Payload):
    pass


class DeadLettered(Payload):
    service = fields.String(required=True, validate=validate.Length(min=1, max=40))
    dead_letter_id = fields.UUID(required=True)
    task_name = fields.String(required=True)
    error_type = fields.String(required=True)


for _svc in ("plans", "finance", "notifications"):
    CONTRACT.task(
        f"{_svc}.sync_tenant", version=1, schema=TenantChanged,
        description="Replace the read model of a tenant and its schools.",
    )
for _svc in ("plans", "notifications"):
    CONTRACT.task(
        f"{_svc}.sync_user", version=1, schema=UserChanged,
        description="Replace the read model of a user and their roles.",
    )
CONTRACT.event("identity.tenant_changed", ("plans.sync_tenant", "finance.sync_tenant", "notifications.sync_tenant"))
CONTRACT.event("identity.user_changed", ("plans.sync_user", "notifications.sync_user"))

CONTRACT.task(
    "identity.purge_expired_sessions", version=1, schema=Empty,
    description="Delete refresh sessions and signing keys whose lifetime has ended.",
)
CONTRACT.schedule("identity-purge-expired-sessions", "identity.purge_expired_sessions", 3600.0)
CONTRACT.task(
    "notifications.message_dead_lettered", version=1, schema=DeadLettered,
    description="Tell platform admins that a message failed past its retries.",
)
