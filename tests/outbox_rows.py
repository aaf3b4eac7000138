"""Rows written straight into a module's outbox, as a crash, an older release or a damaged
disk would leave them (publishing cannot produce them): for what the relay makes of them."""

from typing import Any
from uuid import UUID, uuid4

from django.utils import timezone

from modulith.database.store.models import Delivery, OutboxEvent
from modulith.transports.envelope import Envelope


def stored_events(
    alias: str,
    event_name: str,
    route: str,
    data: dict[str, Any] | None = None,
    *,
    count: int = 1,
) -> list[UUID]:
    """`count` committed events, each with one pending delivery to `route`, due now."""
    now = timezone.now()
    source = f"{alias}.service"
    events = []
    for _ in range(count):
        envelope = Envelope(
            event_id=uuid4(),
            event_name=event_name,
            source=source,
            occurred_at=now,
            schema_version="1.0",
            data=data if data is not None else {"orderId": str(uuid4())},
        )
        events.append(
            OutboxEvent(
                id=envelope.event_id,
                event_name=event_name,
                source=source,
                occurred_at=now,
                wire=envelope.to_wire(),
            )
        )
    OutboxEvent.objects.using(alias).bulk_create(events, batch_size=500)
    Delivery.objects.using(alias).bulk_create(
        (Delivery(event=event, route=route, next_attempt_at=now) for event in events),
        batch_size=500,
    )
    return [event.id for event in events]
