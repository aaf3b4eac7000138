"""What an outbox holds right now, for the gauges a scrape reads: one aggregate on the
deliveries' due index."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q

from modulith.modules import Module
from modulith.store.models import Delivery, DeliveryStatus
from modulith.store.ownership import deliveries_of


@dataclass(frozen=True)
class OutboxState:
    pending: int  # deliveries committed and not yet delivered
    oldest_pending: datetime | None  # when the oldest of their events was stored
    dead: int  # dead letters


def outbox_state(module: Module) -> OutboxState:
    pending = Q(status=DeliveryStatus.PENDING)
    stats = (
        Delivery.objects.using(module.database)
        .filter(deliveries_of(module), status__in=[DeliveryStatus.PENDING, DeliveryStatus.DEAD])
        .aggregate(
            pending=Count("id", filter=pending),
            oldest=Min("event__created_at", filter=pending),
            dead=Count("id", filter=Q(status=DeliveryStatus.DEAD)),
        )
    )
    return OutboxState(int(stats["pending"]), stats["oldest"], int(stats["dead"]))
