"""Publishing events and handling them. Import once Django's apps are ready."""

from modulith.bus.asynchronous import aatomic, acancel_scheduled, apublish
from modulith.bus.dispatch import DependencyUnavailable, Dispatcher, PermanentFailure
from modulith.bus.inbox import atomic, current_envelope
from modulith.bus.publisher import EventTooLarge, publish
from modulith.bus.scheduling import cancel_scheduled
from modulith.transports.envelope import Envelope, MalformedEvent

__all__ = [
    "DependencyUnavailable",
    "Dispatcher",
    "Envelope",
    "EventTooLarge",
    "MalformedEvent",
    "PermanentFailure",
    "aatomic",
    "acancel_scheduled",
    "apublish",
    "atomic",
    "cancel_scheduled",
    "current_envelope",
    "publish",
]
