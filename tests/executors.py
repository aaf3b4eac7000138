"""An executor a test puts in the runtime's place: it claims at publish, as the delivery
thread does, and holds on to what it is handed instead of delivering it."""

from modulith.database.store.models import Delivery
from modulith.outbox.executors import BySweep, Inline
from modulith.outbox.relay import Relay


class SlowToStart(Inline):
    """A delivery thread that is slow to start."""

    def __init__(self, relay: Relay) -> None:
        super().__init__(relay)
        self.handed_over: list[tuple[str, list[Delivery], bool]] = []

    def after_commit(self, alias: str, deliveries: list[Delivery], *, all_stored: bool) -> None:
        self.handed_over.append((alias, deliveries, all_stored))


def by_sweep(relay: Relay) -> BySweep:
    """An executor that leaves what is published to a relay's sweep (`build_runtime(executor=
    by_sweep)`): the deliveries wait in the outbox, unclaimed."""
    return BySweep()
