"""An ordered event and a topology that publishes and handles it, for the tests of per-key
ordering: inventory publishes `PriceChanged` (ordered by its `sku`, each carrying its
sequence number within the SKU); orders applies them and waits behind a dead letter (the
default), payments applies them and skips past one.

The handlers record what they applied in `APPLIED`, and fail as `FAILURES` tells them: a
test says which (subscriber, sku, sequence) fail the first time, or always (dead at once)."""

from collections import defaultdict
from dataclasses import dataclass, field
from threading import Lock

from modulith import Event, Module, PermanentFailure
from modulith.modules import Topology

PUBLISHER = "inventory"
WAITS = "orders"  # waits behind a dead letter of a key
SKIPS = "payments"  # skips past one


class PriceChanged(Event):
    ordering_key = "sku"
    schema_version = "1.0"

    sku: str
    sequence: int


Applied = tuple[str, int]  # sku, sequence


@dataclass
class Failures:
    """What the handlers fail on: once (then they succeed), or always, by subscriber."""

    once: set[tuple[str, str, int]] = field(default_factory=set)
    always: set[tuple[str, str, int]] = field(default_factory=set)
    lock: Lock = field(default_factory=Lock)

    def check(self, subscriber: str, event: PriceChanged) -> None:
        which = (subscriber, event.sku, event.sequence)
        if which in self.always:
            raise PermanentFailure(f"{event.sku} #{event.sequence} can never be applied")
        with self.lock:
            if which in self.once:
                self.once.discard(which)
                raise RuntimeError(f"{event.sku} #{event.sequence} fails this once")

    def clear(self) -> None:
        self.once.clear()
        self.always.clear()


APPLIED: dict[str, list[Applied]] = defaultdict(list)
FAILURES = Failures()


def apply_in_orders(event: PriceChanged) -> None:
    FAILURES.check(WAITS, event)
    APPLIED[WAITS].append((event.sku, event.sequence))


def apply_in_payments(event: PriceChanged) -> None:
    FAILURES.check(SKIPS, event)
    APPLIED[SKIPS].append((event.sku, event.sequence))


def topology() -> Topology:
    """The three shop modules (their apps and databases), publishing and handling only
    `PriceChanged`."""
    return Topology(
        modules=(
            Module(name=PUBLISHER, app="modules.inventory", publishes=(PriceChanged,)),
            Module(
                name=WAITS,
                app="modules.orders",
                handles={PriceChanged: "tests.ordered_events.apply_in_orders"},
            ),
            Module(
                name=SKIPS,
                app="modules.payments",
                handles={PriceChanged: "tests.ordered_events.apply_in_payments"},
                after_dead_letter="skip",
            ),
        ),
        running=frozenset({PUBLISHER, WAITS, SKIPS}),
    )


def in_order(applied: list[Applied]) -> dict[str, list[int]]:
    """The sequence numbers applied, by SKU, in the order they were applied."""
    by_sku: dict[str, list[int]] = defaultdict(list)
    for sku, sequence in applied:
        by_sku[sku].append(sequence)
    return dict(by_sku)
