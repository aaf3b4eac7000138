"""Django looks for an app's models here; each lives with its concept: the outbox's and the
inbox's in `modulith.store.models`, the SQS consumer's in `modulith.aws.models`, the nonces of
internal calls in `modulith.remote.models`, a module's move to its own database in
`modulith.datamove.models`."""

from modulith.aws.models import HandlingFailure
from modulith.datamove.models import CapturedChange, CopiedTable, ModuleMove
from modulith.remote.models import CallNonce
from modulith.store.models import DeadLetter, Delivery, DeliveryStatus, InboxRecord, OutboxEvent

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
