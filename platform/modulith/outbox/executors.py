"""Where deliveries scheduled after a commit run: inline, or on a thread pool (Celery, the
[celery] extra, is `modulith.tasks`)."""

import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from modulith.bus.publisher import Scheduler
from modulith.database.store.models import Delivery
from modulith.observability.logs import MODULE
from modulith.observability.metrics import DELIVERY_ERRORS
from modulith.outbox.relay import Relay

log = logging.getLogger(__name__)


Delivering = tuple[str, list[Delivery], bool]


class Cascade:
    """Runs deliveries on the calling thread; what their handlers publish (once committed) is
    delivered after the delivery in hand, in order, instead of inside it. However long a chain
    of events, the stack stays one delivery deep and memory one delivery high (a nested
    chain held every hop's objects to the end: measured, the interpreter then paid for fresh
    memory pages at every saga). The first call on a thread returns once the whole cascade is
    delivered and its outcomes recorded."""

    def __init__(self, relay: Relay, deliver: Scheduler) -> None:
        self._relay = relay
        self._deliver = deliver
        self._local = threading.local()

    @property
    def running(self) -> bool:
        """Whether this thread is delivering a cascade now."""
        return getattr(self._local, "pending", None) is not None

    def __call__(self, alias: str, deliveries: list[Delivery], certain: bool) -> None:
        pending: deque[Delivering] | None = getattr(self._local, "pending", None)
        if pending is not None:  # a cascade: after the delivery in hand
            pending.append((alias, deliveries, certain))
            return
        pending = self._local.pending = deque([(alias, deliveries, certain)])
        try:
            # No hop waits for the records of the hops before it: they are written together.
            with self._relay.outcomes.in_bulk():
                while pending:
                    self._deliver(*pending.popleft())
        finally:
            self._local.pending = None


def inline(relay: Relay) -> Scheduler:
    """In the committing thread, before it goes on: deterministic, for scripts and tests."""
    return Cascade(
        relay,
        lambda alias, deliveries, certain: _deliver(relay, "inline", alias, deliveries, certain),
    )


def thread_pool(relay: Relay, workers: int = 4) -> Scheduler:
    """On a few background threads of this process, like an asynchronous listener: the
    request that published returns at once; the relay's sweep covers a crash meanwhile.
    What a handler publishes on a delivery thread is delivered on that same thread once its
    transaction commits: nobody waits there, and another hop would only add a wait."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modulith-deliver")

    def deliver(alias: str, deliveries: list[Delivery], certain: bool) -> None:
        if not _deliver(relay, "thread", alias, deliveries, certain):
            # This thread's connections may be broken; the next delivery reconnects.
            connections.close_all()

    cascade = Cascade(relay, deliver)

    def submit(alias: str, deliveries: list[Delivery], certain: bool) -> None:
        if cascade.running:
            cascade(alias, deliveries, certain)  # published on this delivery thread
        else:
            pool.submit(cascade, alias, deliveries, certain)

    return submit


def _deliver(
    relay: Relay, executor: str, alias: str, deliveries: list[Delivery], certain: bool
) -> bool:
    """Delivers; nobody waits for the result after a commit, so an exception is logged and
    counted here (the relay's sweep tries again) and the rest of a cascade goes on."""
    try:
        relay.deliver_published(alias, deliveries, certain)
    except Exception:
        DELIVERY_ERRORS.labels(alias, executor).inc()
        log.exception(
            "deliveries %s of %s failed after their commit; the relay's sweep tries again",
            [delivery.pk for delivery in deliveries],
            alias,
            extra={MODULE: alias},
        )
        return False
    return True
