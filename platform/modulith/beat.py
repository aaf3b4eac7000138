"""Moved to `modulith.outbox.beat`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved
from modulith.outbox.beat import (
    schedule_outbox_sweep,
)

__all__ = [
    "schedule_outbox_sweep",
]

moved("modulith.beat", "modulith.outbox.beat")
