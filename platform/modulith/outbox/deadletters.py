"""Dead letters: deliveries that gave up, kept with their last error until replayed."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from modulith.outbox.models import DeadLetter, DeliveryStatus
from modulith.outbox.outcomes import RelayReport
from modulith.outbox.relay import Relay


@dataclass(frozen=True)
class DeadLetterView:
    module: str
    delivery_id: int
    event_id: str
    event_name: str
    route: str
    attempts: int
    dead_at: datetime | None
    last_error: str


def dead_letters(aliases: Iterable[str]) -> list[DeadLetterView]:
    return [
        DeadLetterView(
            module=alias,
            delivery_id=letter.pk,
            event_id=str(letter.event_id),
            event_name=letter.event.event_name,
            route=letter.route,
            attempts=letter.attempts,
            dead_at=letter.dead_at,
            last_error=letter.last_error,
        )
        for alias in aliases
        for letter in DeadLetter.objects.using(alias).select_related("event").order_by("dead_at")
    ]


def replay(relay: Relay, alias: str, delivery_ids: Sequence[int] | None = None) -> RelayReport:
    """Gives dead deliveries a fresh set of attempts and delivers them now.

    Replaying is safe even if a letter was in fact handled: the subscriber's inbox absorbs it.
    """
    letters = DeadLetter.objects.using(alias)
    if delivery_ids is not None:
        letters = letters.filter(pk__in=list(delivery_ids))
    ids = list(letters.values_list("pk", flat=True))
    letters.update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        dead_at=None,
        updated_at=timezone.now(),
    )
    return relay.deliver(alias, ids)
