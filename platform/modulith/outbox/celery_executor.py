"""Deliveries scheduled after a commit, run by a Celery worker (the [celery] extra)."""

from modulith.outbox.models import Delivery
from modulith.outbox.relay import Relay, Scheduler
from modulith.tasks import deliver


def celery(relay: Relay) -> Scheduler:
    """On a Celery worker (eagerly in this process when there is no broker). The worker
    claims what it delivers: a task may wait in the broker longer than a claim lasts."""
    relay.claims_at_publish = False

    def enqueue(alias: str, deliveries: list[Delivery], certain: bool) -> None:
        deliver.delay(alias, [delivery.pk for delivery in deliveries])

    return enqueue
