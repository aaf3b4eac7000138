"""An outbox event's envelope, parsed from its wire form once per instance: an event this
process has just published keeps the very envelope it was stored from, so delivering it in
process costs no second parse."""

from modulith.database.store.models import OutboxEvent
from modulith.transports.envelope import Envelope

_ENVELOPE = "_modulith_envelope"


def envelope_of(event: OutboxEvent) -> Envelope:
    """The event as the bus carries it. Raises MalformedEvent for a damaged row."""
    envelope: Envelope | None = event.__dict__.get(_ENVELOPE)
    if envelope is None:
        envelope = event.__dict__[_ENVELOPE] = Envelope.from_wire(event.wire)
    return envelope


def keep_envelope(event: OutboxEvent, envelope: Envelope) -> None:
    """`envelope` is what `event` was stored from."""
    event.__dict__[_ENVELOPE] = envelope
