"""Celery (the [celery] extra): deliveries scheduled after a commit, handed to a worker as
tasks, and the periodic sweep of every outbox. The worker runs the tasks on the runtime the
composition root installed in it."""

from celery import shared_task

from modulith.bus.publisher import Scheduler
from modulith.observability.metrics import DELIVERY_ERRORS
from modulith.outbox.relay import Relay
from modulith.runtime import runtime
from modulith.store.models import Delivery


def celery_scheduler(relay: Relay) -> Scheduler:
    """On a Celery worker (eagerly in this process when there is no broker). The worker
    claims what it delivers: a task may wait in the broker longer than a claim lasts."""
    relay.claims_at_publish = False

    def enqueue(alias: str, deliveries: list[Delivery], certain: bool) -> None:
        deliver.delay(alias, [delivery.pk for delivery in deliveries])

    return enqueue


@shared_task(name="modulith.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver(alias: str, delivery_ids: list[int]) -> str:
    try:
        return str(runtime().relay.deliver(alias, delivery_ids))
    except Exception:  # counted here; Celery logs it and marks the task failed
        DELIVERY_ERRORS.labels(alias, "celery").inc()
        raise


@shared_task(name="modulith.sweep", acks_late=True)
def sweep() -> str:
    current = runtime()
    return str(current.relay.drain(current.topology.running_databases))
