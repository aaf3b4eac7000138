"""Django looks for an app's models here; each lives with its concept: the outbox's and the
inbox's in `modulith.database.store.models`, the SQS consumer's in `modulith.aws.models`, the
nonces of internal calls in `modulith.ports.remote.models`, a module's move to its own database in
`modulith.tooling.adoption.datamove.models`."""

from modulith.aws.models import HandlingFailure
from modulith.database.store.models import (
    DeadLetter,
    Delivery,
    DeliveryStatus,
    InboxRecord,
    OutboxEvent,
)
from modulith.ports.remote.models import CallNonce
from modulith.tooling.adoption.datamove.models import CapturedChange, CopiedTable, ModuleMove

__all__ = [
    "CallNonce",
    "CapturedChange",
    "CopiedTable",
    "DeadLetter",
    "Delivery",
    "DeliveryStatus",
    "HandlingFailure",
    "InboxRecord",
    "ModuleMove",
    "OutboxEvent",
]
