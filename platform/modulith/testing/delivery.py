"""An event a test delivers to a scenario's modules as a foreign module would: in the wire
format its relay sends, handed to the subscribers' handlers through the transport, the
dispatcher and the inbox, as in any deployment."""

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.utils import timezone

from modulith.bus import Envelope
from modulith.conf import modulith_settings
from modulith.modules import Topology
from modulith.testing.activity import Activity
from modulith.testing.published import published_ids
from modulith.testing.waiting import DEFAULT_TIMEOUT, Baseline, wait_for_event

E = TypeVar("E")

# Hands an envelope to each of these modules' handlers.
HandOver = Callable[[Envelope, tuple[str, ...]], None]


class DeliveryFailed(AssertionError):
    """A module's handler failed on an event the test delivered (in a deployment the relay
    would retry it, or dead-letter it if the failure is permanent)."""


class Delivered:
    """An event the test delivered, and what it set in motion."""

    def __init__(
        self,
        envelope: Envelope,
        subscribers: tuple[str, ...],
        *,
        topology: Topology,
        activity: Activity,
        hand_over: HandOver,
    ) -> None:
        self.envelope = envelope
        self.subscribers = subscribers
        self._topology = topology
        self._activity = activity
        self._hand_over = hand_over
        self._since = Baseline(
            events=published_ids(topology),
            failures=len(activity.failures),
            cause=f"after {envelope.event_name} was delivered to {', '.join(subscribers)}",
        )
        hand_over(envelope, subscribers)

    @property
    def event_id(self) -> uuid.UUID:
        return self.envelope.event_id

    def again(self) -> "Delivered":
        """The same event (the same id) delivered once more, as at-least-once delivery may."""
        return Delivered(
            self.envelope,
            self.subscribers,
            topology=self._topology,
            activity=self._activity,
            hand_over=self._hand_over,
        )

    def and_wait_for(
        self,
        event_type: type[E],
        *,
        matching: Callable[[E], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> E:
        """The first event of `event_type` (that `matching` accepts) published since this
        delivery, its cascades included, waiting for it if it is not there yet."""
        return wait_for_event(
            self._topology, self._activity, event_type, matching, timeout, self._since
        )


def foreign_envelope(topology: Topology, event: Any, source: str | None = None) -> Envelope:
    """The event as its publisher's relay (or the producer outside whose `source` is given)
    hands it over, and as it comes out of a queue."""
    envelope = Envelope(
        event_id=uuid.uuid4(),
        event_name=event.event_name,
        source=source or topology.publisher_of(event.event_name).source,
        occurred_at=timezone.now(),
        schema_version=event.schema_version,
        data=event.model_dump(mode="json", by_alias=True),
    )
    return Envelope.from_json(envelope.to_json(), max_bytes=modulith_settings().max_event_bytes)
