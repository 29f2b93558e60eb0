"""The message contract: every task name, its version, its queue and its payload schema.

Services talk only through these messages. A payload carries ids and the facts the receiver needs,
never a token, a personal code or file bytes. Producers send by name; receivers validate again.
Each service's messages are declared in the module named for the service that sends them.
"""

from marshmallow import ValidationError

from . import documents, finance, identity, notifications, plans, platform, timeline  # noqa: F401  (each registers its messages)
from .base import CONTRACT, Contract, Empty, Payload, TaskContract
from .platform import DeadLettered

__all__ = ["CONTRACT", "Contract", "DeadLettered", "Empty", "Payload", "TaskContract", "ValidationError"]
