"""Moved to `modulith.transports.envelope`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved
from modulith.transports.envelope import (
    Envelope,
    MalformedEvent,
    parse_json,
)

__all__ = [
    "Envelope",
    "MalformedEvent",
    "parse_json",
]

moved("modulith.envelope", "modulith.transports.envelope")
