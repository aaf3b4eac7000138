"""Celery (the [celery] extra): deliveries published, handed to a worker as tasks once their
transaction commits, and the periodic sweep of every outbox. The worker runs the tasks on the
runtime the composition root installed in it."""

from celery import shared_task

from modulith.database.store.models import Delivery
from modulith.observability.metrics import DELIVERY_ERRORS
from modulith.runtime import runtime


class CeleryExecutor:
    """On a Celery worker (eagerly in this process when there is no broker). It delivers
    later, not at publish: the worker claims what it delivers as it takes it, since a task may
    wait in the broker longer than a claim lasts."""

    name = "celery"

    def claim(self) -> dict[str, object]:
        return {}

    def after_commit(self, alias: str, deliveries: list[Delivery], *, all_stored: bool) -> None:
        deliver.delay(alias, [delivery.pk for delivery in deliveries])


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
