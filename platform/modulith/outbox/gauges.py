"""What an outbox holds right now, for the gauges a scrape reads: one aggregate on the
deliveries' due index."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce, Now

from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.database.store.ownership import deliveries_of
from modulith.modules import Module


@dataclass(frozen=True)
class OutboxState:
    pending: int  # deliveries due (or being retried) and not yet delivered
    oldest_pending: datetime | None  # when the oldest of their events was due
    dead: int  # dead letters
    scheduled: int  # scheduled events not due yet
    oldest_due_scheduled: datetime | None  # when the longest-due undelivered scheduled one was


def outbox_state(module: Module) -> OutboxState:
    # A scheduled delivery waiting for its time is not late: it counts as scheduled only.
    waiting = Q(status=DeliveryStatus.PENDING, cancellable=True, next_attempt_at__gt=Now())
    pending = Q(status=DeliveryStatus.PENDING) & ~waiting
    stats = (
        Delivery.objects.using(module.database)
        .filter(deliveries_of(module), status__in=[DeliveryStatus.PENDING, DeliveryStatus.DEAD])
        .aggregate(
            pending=Count("id", filter=pending),
            # Due since its publication, or since its time for a scheduled event.
            oldest=Min(Coalesce("event__deliver_at", "event__created_at"), filter=pending),
            dead=Count("id", filter=Q(status=DeliveryStatus.DEAD)),
            scheduled=Count("event", distinct=True, filter=waiting),
            oldest_due_scheduled=Min(
                "event__deliver_at",
                filter=Q(status=DeliveryStatus.PENDING, event__deliver_at__lte=Now()),
            ),
        )
    )
    return OutboxState(
        pending=int(stats["pending"]),
        oldest_pending=stats["oldest"],
        dead=int(stats["dead"]),
        scheduled=int(stats["scheduled"]),
        oldest_due_scheduled=stats["oldest_due_scheduled"],
    )
