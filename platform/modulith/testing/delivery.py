"""An event a test delivers to a scenario's modules as a foreign module would: in the wire
format its relay sends, handed to the subscribers' handlers through the transport, the
dispatcher and the inbox, as in any deployment."""

import uuid
from typing import Any

from django.utils import timezone

from modulith.bus import Envelope
from modulith.modules import Topology


class DeliveryFailed(AssertionError):
    """A module's handler failed on an event the test delivered (in a deployment the relay
    would retry it, or dead-letter it if the failure is permanent)."""


def foreign_envelope(topology: Topology, event: Any) -> Envelope:
    """The event as its publisher's relay hands it over, and as it comes out of a queue."""
    publisher = topology.publisher_of(event.event_name)
    envelope = Envelope(
        event_id=uuid.uuid4(),
        event_name=event.event_name,
        source=publisher.source,
        occurred_at=timezone.now(),
        schema_version=event.schema_version,
        data=event.model_dump(mode="json", by_alias=True),
    )
    return Envelope.from_json(envelope.to_json())
