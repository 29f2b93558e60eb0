"""The contract registry: task declarations, event fan-out and schedules, and the payload base."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema

from ..settings import SERVICES


class Payload(Schema):
    """Base of every payload schema: unknown fields are an error, on send and on receive."""

    class Meta:
        unknown = RAISE


LONG_LANE = ".long"


@dataclass(frozen=True)
class TaskContract:
    name: str
    version: int
    queue: str
    schema: type[Schema]
    description: str
    # a task that may run for minutes: its own queue and worker (`<service>.long`) and the long time limits, so
    # it never holds up the service's short tasks (checks, verdicts, deliveries)
    long: bool = False

    @property
    def service(self) -> str:
        """The service that consumes it (the name's prefix)."""
        return self.name.split(".", 1)[0]

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

    def task(
        self, name: str, *, version: int, schema: type[Schema], description: str, long: bool = False
    ) -> TaskContract:
        service = name.split(".", 1)[0]
        if service not in self.queues:
            raise ValueError(f"task {name} names no declared queue")
        if name in self.tasks:
            raise ValueError(f"task {name} declared twice")
        spec = TaskContract(name, version, service + LONG_LANE if long else service, schema, description, long)
        self.tasks[name] = spec
        return spec

    @property
    def all_queues(self) -> tuple[str, ...]:
        """Every queue a message can be sent to: one per service, and the long lanes some services have."""
        lanes = sorted({spec.queue for spec in self.tasks.values()} - set(self.queues))
        return (*self.queues, *lanes)

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


CONTRACT = Contract(queues=SERVICES)


class Empty(Payload):
    """No payload: the message itself is the fact (scheduled tasks)."""
