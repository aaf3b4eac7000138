"""Celery tasks: deliveries handed to a worker, and the periodic sweep of every outbox."""

from celery import shared_task

from modulith.observability.metrics import DELIVERY_ERRORS
from modulith.runtime import runtime


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
    return str(current.relay.drain(m.database for m in current.topology.running_modules))
