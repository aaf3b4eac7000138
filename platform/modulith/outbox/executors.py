"""Where deliveries scheduled after a commit run: inline, or on a thread pool (Celery, the
[celery] extra, is `modulith.outbox.celery_executor`)."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from modulith.observability.logs import MODULE
from modulith.observability.metrics import DELIVERY_ERRORS
from modulith.outbox.models import Delivery
from modulith.outbox.relay import Relay, Scheduler

log = logging.getLogger(__name__)


def inline(relay: Relay) -> Scheduler:
    """In the committing thread, before it goes on: deterministic, for scripts and tests."""

    def deliver(alias: str, deliveries: list[Delivery], certain: bool) -> None:
        relay.deliver_published(alias, deliveries, certain)

    return deliver


def thread_pool(relay: Relay, workers: int = 4) -> Scheduler:
    """On a few background threads of this process, like an asynchronous listener: the
    request that published returns at once; the relay's sweep covers a crash meanwhile.
    What a handler publishes on a delivery thread is delivered on that same thread once its
    transaction commits: nobody waits there, and another hop would only add a wait. Nobody
    waits for the result, so an exception is logged and counted here."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="modulith-deliver")
    delivering = threading.local()

    def deliver(alias: str, deliveries: list[Delivery], certain: bool) -> bool:
        try:
            relay.deliver_published(alias, deliveries, certain)
        except Exception:
            DELIVERY_ERRORS.labels(alias, "thread").inc()
            log.exception(
                "deliveries %s of %s failed on a delivery thread; the relay's sweep tries again",
                [delivery.pk for delivery in deliveries],
                alias,
                extra={MODULE: alias},
            )
            return False
        return True

    def run(alias: str, deliveries: list[Delivery], certain: bool) -> None:
        delivering.active = True
        try:
            if not deliver(alias, deliveries, certain):
                # This thread's connections may be broken; the next delivery reconnects.
                connections.close_all()
        finally:
            delivering.active = False

    def submit(alias: str, deliveries: list[Delivery], certain: bool) -> None:
        if getattr(delivering, "active", False):
            deliver(alias, deliveries, certain)  # a cascade: on this delivery thread
        else:
            pool.submit(run, alias, deliveries, certain)

    return submit
