"""What the relay hands events to: the one interface every transport implements, and the one
vocabulary of what became of an event handed on (`Outcome`), which every delivery path acts on
and counts (`Tally`)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol, Self

from modulith.transports.envelope import Envelope


class Settled(StrEnum):
    """What became of one event handed on: to a route (a transport's send) or to a module's
    handlers (the dispatcher's)."""

    HANDLED = "handled"  # taken: handled by every handler, or accepted by the route
    DUPLICATE = "duplicate"  # every handler had handled it before: no second effect
    RETRY = "retried"  # failed through the event's own fault or a handler's: due again later
    DEAD = "dead"  # can never be handled as it is: dead-lettered at once, with its reason
    # Not handled because something it needs is down (the route, the subscriber's database, a
    # provider): not the event's fault, so it costs no attempt; the route or queue pauses.
    UNAVAILABLE = "unavailable"
    # Not started: a handler of it runs as many deliveries as its `concurrency` allows in this
    # process. Due again as soon as a slot frees, at no cost of an attempt.
    BUSY = "busy"


@dataclass(frozen=True)
class Outcome:
    settled: Settled
    error: str = ""
    # Of a dead one, the kind of failure: a label for metrics (a handler's is `handler`).
    reason: str = ""
    # The exception that decided it, for the log line of whoever acts on it (its traceback).
    cause: BaseException | None = field(default=None, compare=False, repr=False)
    # Read from `settled` on every event's way, so set once as plain attributes. `ok`: done
    # with, nothing more to do for this event on this route; `permanent`: dead.
    ok: bool = field(init=False, compare=False, repr=False)
    permanent: bool = field(init=False, compare=False, repr=False)
    unavailable: bool = field(init=False, compare=False, repr=False)
    busy: bool = field(init=False, compare=False, repr=False)

    @classmethod
    def retry(cls, error: str, cause: BaseException | None = None) -> "Outcome":
        return cls(Settled.RETRY, error, cause=cause)

    @classmethod
    def dead(cls, error: str, reason: str = "handler") -> "Outcome":
        return cls(Settled.DEAD, error, reason)

    @classmethod
    def unavailable_because(cls, error: str) -> "Outcome":
        return cls(Settled.UNAVAILABLE, error)

    @classmethod
    def busy_because(cls, error: str) -> "Outcome":
        return cls(Settled.BUSY, error)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok", self.settled in (Settled.HANDLED, Settled.DUPLICATE))
        object.__setattr__(self, "permanent", self.settled is Settled.DEAD)
        object.__setattr__(self, "unavailable", self.settled is Settled.UNAVAILABLE)
        object.__setattr__(self, "busy", self.settled is Settled.BUSY)


DELIVERED = Outcome(Settled.HANDLED)
DUPLICATE = Outcome(Settled.DUPLICATE)


@dataclass
class Tally:
    """Counts of outcomes, by what each settled as; a report of a delivery path is one, with
    the names its readers know the counts by (`COUNTED`). Any field beyond the counts adds up
    too: numbers add, flags or, lists join."""

    COUNTED: ClassVar[dict[Settled, str]]

    def count(self, outcome: Outcome) -> None:
        name = self.COUNTED[outcome.settled]
        setattr(self, name, getattr(self, name) + 1)

    def add(self, other: Self) -> None:
        # Only what the other counted: most of a report is zeros, and the relay adds one per send.
        for name, theirs in vars(other).items():
            if theirs:
                setattr(self, name, True if theirs is True else getattr(self, name) + theirs)

    @property
    def settled(self) -> int:
        """How many outcomes it counts."""
        return sum(getattr(self, name) for name in set(self.COUNTED.values()))


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
