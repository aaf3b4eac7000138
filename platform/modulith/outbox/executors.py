"""What runs the relay after a commit: in the committing thread (`Inline`), on a few threads of
this process (`ThreadPool`), or not at all, leaving the deliveries to the relay's sweep
(`BySweep`). Celery's, the [celery] extra, is `modulith.tasks.CeleryExecutor`. Each implements
`modulith.bus.publisher.Executor`; a new one is one class and one line of
`modulith.runtime.bootstrap.EXECUTORS`."""

import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from modulith.database.store.models import Delivery
from modulith.observability.logs import MODULE
from modulith.observability.metrics import DELIVERY_ERRORS
from modulith.outbox.relay import Relay

log = logging.getLogger(__name__)


Published = tuple[str, list[Delivery], bool]  # alias, deliveries, all stored


class Cascade:
    """Delivers at publish, on the calling thread, what a transaction published: claimed as
    stored, so no sweep takes them meanwhile. What their handlers publish (once committed) is
    delivered after the delivery in hand, in order, instead of inside it. However long a chain
    of events, the stack stays one delivery deep and memory one delivery high (a nested
    chain held every hop's objects to the end: measured, the interpreter then paid for fresh
    memory pages at every saga). The first call on a thread returns once the whole cascade is
    delivered and its outcomes recorded."""

    name = "inline"

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._local = threading.local()

    def claim(self) -> dict[str, object]:
        return self.relay.claims.at_publish()

    @property
    def running(self) -> bool:
        """Whether this thread is delivering a cascade now."""
        return getattr(self._local, "pending", None) is not None

    def after_commit(self, alias: str, deliveries: list[Delivery], *, all_stored: bool) -> None:
        pending: deque[Published] | None = getattr(self._local, "pending", None)
        if pending is not None:  # a cascade: after the delivery in hand
            pending.append((alias, deliveries, all_stored))
            return
        self._cascade(alias, deliveries, all_stored)

    def _cascade(self, alias: str, deliveries: list[Delivery], all_stored: bool) -> None:
        pending = self._local.pending = deque([(alias, deliveries, all_stored)])
        try:
            # No hop waits for the records of the hops before it: they are written together.
            with self.relay.outcomes.in_bulk():
                while pending:
                    self._deliver(*pending.popleft())
        finally:
            self._local.pending = None

    def _deliver(self, alias: str, deliveries: list[Delivery], all_stored: bool) -> bool:
        """Delivers; nobody waits for the result after a commit, so an exception is logged and
        counted here (the relay's sweep tries again) and the rest of a cascade goes on."""
        try:
            self.relay.deliver_published(alias, deliveries, all_stored=all_stored)
        except Exception:
            DELIVERY_ERRORS.labels(alias, self.name).inc()
            log.exception(
                "deliveries %s of %s failed after their commit; the relay's sweep tries again",
                [delivery.pk for delivery in deliveries],
                alias,
                extra={MODULE: alias},
            )
            return False
        return True


class Inline(Cascade):
    """In the committing thread, before it goes on: deterministic, for scripts and tests."""


class ThreadPool(Cascade):
    """On a few background threads of this process, like an asynchronous listener: the
    request that published returns at once; the relay's sweep covers a crash meanwhile.
    What a handler publishes on a delivery thread is delivered on that same thread once its
    transaction commits: nobody waits there, and another hop would only add a wait."""

    name = "thread"

    def __init__(self, relay: Relay, workers: int = 4) -> None:
        super().__init__(relay)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modulith-deliver")

    def after_commit(self, alias: str, deliveries: list[Delivery], *, all_stored: bool) -> None:
        if self.running:  # published on this delivery thread
            super().after_commit(alias, deliveries, all_stored=all_stored)
        else:
            self._pool.submit(self._cascade, alias, deliveries, all_stored)

    def _deliver(self, alias: str, deliveries: list[Delivery], all_stored: bool) -> bool:
        if delivered := super()._deliver(alias, deliveries, all_stored):
            return delivered
        connections.close_all()  # this thread's connections may be broken; the next reconnects
        return False


class BySweep:
    """Leaves what is published to the relay's sweep (`manage.py relay`, Celery beat, the
    embedded relay): stored unclaimed, for whichever relay takes them first."""

    name = "sweep"

    def claim(self) -> dict[str, object]:
        return {}

    def after_commit(self, alias: str, deliveries: list[Delivery], *, all_stored: bool) -> None:
        """Nothing now: they are due, and the next sweep finds them."""
