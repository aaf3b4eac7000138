"""Django looks for an app's models here; they live in `modulith.outbox.models`."""

from modulith.outbox.models import (
    DeadLetter,
    Delivery,
    DeliveryStatus,
    HandlingFailure,
    InboxRecord,
    OutboxEvent,
)

__all__ = [
    "DeadLetter",
    "Delivery",
    "DeliveryStatus",
    "HandlingFailure",
    "InboxRecord",
    "OutboxEvent",
]
