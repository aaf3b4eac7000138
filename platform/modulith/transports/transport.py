"""What the relay hands events to: the one interface every transport implements."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from modulith.transports.envelope import Envelope


@dataclass(frozen=True)
class Outcome:
    """What became of one event handed to a transport."""

    ok: bool
    error: str = ""
    # A permanent failure (bad data, unknown type) is dead-lettered at once, not retried.
    permanent: bool = False
    # The event was not handled because something it needs is down (the subscriber's
    # database, a provider): not the event's fault, so it costs no attempt.
    unavailable: bool = False


DELIVERED = Outcome(ok=True)

# A transport whose batches may be this large counts no bytes (nothing leaves the process).
UNLIMITED_BYTES = 2**62


class Transport(Protocol):
    name: str
    batch_size: int  # entries per call
    max_batch_bytes: int  # bytes per call, all entries together

    def routes(self, event_name: str) -> list[str]:
        """Where an event must go: one delivery record is kept per route."""
        ...

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        """Hands a batch (at most `batch_size`) to the route; one outcome per envelope.
        `first_attempt`: these events were never handed to anyone before (none can be a
        duplicate), so a subscriber need not look for them in its inbox first.

        Raises when the route cannot be reached as a whole (connection refused, timeout,
        throttling, a server error): the relay then backs the route off without counting an
        attempt against any of the events."""
        ...
