"""Publishing events and handling them. Import once Django's apps are ready."""

from modulith.bus.dispatch import PermanentFailure, current_envelope
from modulith.bus.envelope import Envelope, MalformedEvent
from modulith.bus.publisher import EventTooLarge, publish

__all__ = [
    "Envelope",
    "EventTooLarge",
    "MalformedEvent",
    "PermanentFailure",
    "current_envelope",
    "publish",
]
