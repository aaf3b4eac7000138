"""An ordered event and a topology that publishes and handles it, for the tests of per-key
ordering: inventory publishes `PriceChanged` (ordered by its `sku`, each carrying its
sequence number within the SKU); orders applies them and waits behind a dead letter (the
default), payments applies them and skips past one.

The handlers record what they applied in `APPLIED`, and fail as `FAILURES` tells them: a
test says which (subscriber, sku, sequence) fail the first time, or always (dead at once). A
process started on `tests.ordered_settings` runs these modules; its handlers fail the first
time they see an event with the chance ORDERED_EVENTS_FAILURE_RATE (0 to 1) says, and take
ORDERED_EVENTS_APPLY_SECONDS to apply one (0 by default)."""

import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from threading import Lock

from django.db import transaction

from modulith import Event, Module, PermanentFailure, publish
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
    rate: float = float(os.environ.get("ORDERED_EVENTS_FAILURE_RATE", "0"))
    seen: set[tuple[str, str, int]] = field(default_factory=set)
    lock: Lock = field(default_factory=Lock)

    def check(self, subscriber: str, event: PriceChanged) -> None:
        which = (subscriber, event.sku, event.sequence)
        if which in self.always:
            raise PermanentFailure(f"{event.sku} #{event.sequence} can never be applied")
        with self.lock:
            first_time = which not in self.seen
            self.seen.add(which)
            if which in self.once or (first_time and random.random() < self.rate):
                self.once.discard(which)
                raise RuntimeError(f"{event.sku} #{event.sequence} fails this once")

    def clear(self) -> None:
        self.once.clear()
        self.always.clear()
        self.seen.clear()


APPLIED: dict[str, list[Applied]] = defaultdict(list)
FAILURES = Failures()
APPLY_SECONDS = float(os.environ.get("ORDERED_EVENTS_APPLY_SECONDS", "0"))


def apply_in_orders(event: PriceChanged) -> None:
    FAILURES.check(WAITS, event)
    time.sleep(APPLY_SECONDS)  # the work of applying it: what a kill interrupts
    APPLIED[WAITS].append((event.sku, event.sequence))


def apply_in_payments(event: PriceChanged) -> None:
    FAILURES.check(SKIPS, event)
    time.sleep(APPLY_SECONDS)
    APPLIED[SKIPS].append((event.sku, event.sequence))


# The three shop modules (their apps and databases), publishing and handling only
# `PriceChanged`.
publishing = Module(name=PUBLISHER, app="modules.inventory", publishes=(PriceChanged,))
waiting = Module(
    name=WAITS, app="modules.orders", handles={PriceChanged: "tests.ordered_events.apply_in_orders"}
)
skipping = Module(
    name=SKIPS,
    app="modules.payments",
    handles={PriceChanged: "tests.ordered_events.apply_in_payments"},
    after_dead_letter="skip",
)


def topology() -> Topology:
    return Topology(
        modules=(publishing, waiting, skipping), running=frozenset({PUBLISHER, WAITS, SKIPS})
    )


def in_order(applied: list[Applied]) -> dict[str, list[int]]:
    """The sequence numbers applied, by SKU, in the order they were applied."""
    by_sku: dict[str, list[int]] = defaultdict(list)
    for sku, sequence in applied:
        by_sku[sku].append(sequence)
    return dict(by_sku)


def publish_changes(*changes: Applied, together: bool = False) -> None:
    """Publishes PriceChanged for these (sku, sequence), each in a transaction of its own, or
    all in one."""
    if together:
        with transaction.atomic(using=PUBLISHER):
            for sku, sequence in changes:
                publish(PriceChanged(sku=sku, sequence=sequence))
        return
    for sku, sequence in changes:
        with transaction.atomic(using=PUBLISHER):
            publish(PriceChanged(sku=sku, sequence=sequence))
