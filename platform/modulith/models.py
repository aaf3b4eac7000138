"""Django looks for an app's models here; each lives with its concept: the outbox's and the
inbox's in `modulith.store.models`, the SQS consumer's in `modulith.aws.models`, the nonces of
internal calls in `modulith.remote.models`."""

from modulith.aws.models import HandlingFailure
from modulith.remote.models import CallNonce
from modulith.store.models import DeadLetter, Delivery, DeliveryStatus, InboxRecord, OutboxEvent

__all__ = [
    "CallNonce",
    "DeadLetter",
    "Delivery",
    "DeliveryStatus",
    "HandlingFailure",
    "InboxRecord",
    "OutboxEvent",
]
