"""The outbox's dead letters: deliveries that gave up, kept with their last error until
replayed. Every transport has them (a route that refused an event for good, data that can
never be handled)."""

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime

from django.db.models.functions import Now

from modulith.deadletters import DeadLetterEntry, Replayed
from modulith.modules import Module
from modulith.outbox.relay import Relay
from modulith.store.models import DeadLetter, DeliveryStatus
from modulith.store.ownership import deliveries_of


@dataclass(frozen=True)
class DeadDelivery(DeadLetterEntry):
    kind = "delivery"
    delivery_id: int
    route: str
    attempts: int
    dead_at: datetime | None
    last_error: str

    def __str__(self) -> str:
        when = self.dead_at.isoformat(timespec="seconds") if self.dead_at else "?"
        return (
            f"{self.module}#{self.delivery_id} {self.event_name} {self.event_id} -> "
            f"{self.route}, {self.attempts} attempt(s), dead since {when}: {self.last_error}"
        )


class OutboxDeadLetters:
    """The dead deliveries in a module's database; a replay delivers them now, through the
    relay, with a fresh set of attempts."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def letters(self, module: Module) -> list[DeadLetterEntry]:
        letters = (
            DeadLetter.objects.using(module.database)
            .filter(deliveries_of(module))
            .select_related("event")
        )
        return [
            DeadDelivery(
                module=module.name,
                event_id=str(letter.event_id),
                event_name=letter.event.event_name,
                delivery_id=letter.pk,
                route=letter.route,
                attempts=letter.attempts,
                dead_at=letter.dead_at,
                last_error=letter.last_error,
            )
            for letter in letters.order_by("dead_at", "pk")
        ]

    def replay(self, module: Module, ids: Set[str] | None = None) -> Replayed:
        """`ids` are delivery ids (numbers); others are not this place's."""
        letters = DeadLetter.objects.using(module.database).filter(deliveries_of(module))
        if ids is not None:
            letters = letters.filter(pk__in=[int(i) for i in ids if i.isdigit()])
        chosen = list(letters.values_list("pk", flat=True))
        # Due now by the database's clock, which the claim compares against (this server's
        # could be a moment ahead of it).
        letters.update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=Now(),
            dead_at=None,
            updated_at=Now(),
        )
        report = self.relay.deliver(module.database, chosen)
        return Replayed(
            count=report.handled,
            summary=f"replayed {report.handled} deliveries: {report}",
            complete=report.delivered == len(chosen) and not report.errors,
            last_error=report.errors[-1] if report.errors else "",
        )
