"""What became of each delivery, recorded where the relay still holds its claim: delivered
(a batch in one statement), failed and due again after a backoff, dead, or postponed because
its route is down (attempts untouched). An outcome whose claim lapsed meanwhile is another
relay's to record: it is logged and counted, not written."""

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from django.db.models.functions import Now
from django.utils import timezone

from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.database.store.statements import mark_delivered
from modulith.observability.logs import event_fields
from modulith.observability.metrics import (
    CLAIMS_LOST,
    EVENTS_DEAD,
    EVENTS_DELIVERED,
    EVENTS_RETRIED,
)
from modulith.outbox.retention import forget_events
from modulith.outbox.retry import RetryPolicy
from modulith.transports.envelope import Envelope
from modulith.transports.transport import Outcome, Settled, Tally

log = logging.getLogger("modulith.outbox.relay")  # these lines are the relay's


@dataclass
class RelayReport(Tally):
    COUNTED: ClassVar[dict[Settled, str]] = {
        Settled.HANDLED: "delivered",
        Settled.DUPLICATE: "delivered",
        Settled.RETRY: "retried",
        Settled.DEAD: "dead",
        # Not attempted, or not handled: their route (or what it needs) is down. They wait,
        # attempts untouched.
        Settled.UNAVAILABLE: "waiting",
        # Not started: a handler of theirs ran as many as its concurrency allows. Due again.
        Settled.BUSY: "deferred",
    }

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    deferred: int = 0
    # Attempted, but another relay had taken them over meanwhile: not recorded here.
    lost: int = 0
    # Rows past their retention, deleted by the sweep.
    purged: int = 0
    # A sweep reached its limit in some module database: more may be due right now.
    more_due: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        """How many deliveries it attempted, whatever became of them."""
        return self.settled + self.lost

    def __str__(self) -> str:
        text = f"delivered {self.delivered}, retried {self.retried}, dead {self.dead}"
        if self.waiting:
            text += f", waiting for their route {self.waiting}"
        if self.deferred:
            text += f", deferred for a busy handler {self.deferred}"
        if self.lost:
            text += f", claims lost {self.lost}"
        if self.purged:
            text += f", purged {self.purged} rows"
        return text


# Successes held for a bulk record, by module database and route.
SuccessesByRoute = dict[tuple[str, str], list[tuple[Delivery, Envelope]]]

# A bulk record is written early once it holds this many deliveries.
MOST_HELD = 500


class OutcomeRecorder:
    def __init__(self, policy: RetryPolicy, lease: timedelta, deletes_on_delivery: bool) -> None:
        self.policy = policy
        self.lease = lease
        self.deletes_on_delivery = deletes_on_delivery
        self._bulk = threading.local()

    @contextmanager
    def in_bulk(self) -> Iterator[None]:
        """Successes recorded in this thread within the block are written as it ends, one
        statement a database and route: a cascade's hops then record their outcomes after the
        last hop, not each before the next. The claims guard them meanwhile; if the process
        dies first, the deliveries come back once their claims lapse and the inbox absorbs
        them."""
        if getattr(self._bulk, "held", None) is not None:  # the outer block writes
            yield
            return
        held: SuccessesByRoute = defaultdict(list)
        self._bulk.held = held
        try:
            yield
        finally:
            self._bulk.held = None
            self._write_held(held)

    def write_held(self) -> None:
        """Writes the successes held so far in this thread's bulk block, now: an ordered
        delivery's turn is read from the outbox, where its key's earlier ones must show as
        delivered."""
        held: SuccessesByRoute | None = getattr(self._bulk, "held", None)
        if held:
            self._write_held(held)

    def delivered(
        self, alias: str, route: str, delivered: list[tuple[Delivery, Envelope]]
    ) -> RelayReport:
        """Records a batch's successes in one statement (or deletes them, when nothing
        delivered is kept), only where this relay still holds the claim; inside `in_bulk`,
        when the block ends (the report counts them delivered)."""
        if not delivered:
            return RelayReport()
        held: SuccessesByRoute | None = getattr(self._bulk, "held", None)
        if held is not None:
            held[(alias, route)].extend(delivered)
            if sum(len(batch) for batch in held.values()) >= MOST_HELD:
                self._write_held(held)
            return RelayReport(delivered=len(delivered))
        return self._write_delivered(alias, route, delivered)

    def _write_held(self, held: SuccessesByRoute) -> None:
        batches = list(held.items())
        held.clear()
        for (alias, route), delivered in batches:
            try:
                self._write_delivered(alias, route, delivered)
            except Exception:  # the others are still written; these come back after the claim
                log.exception(
                    "could not record %d deliveries of %s to %s as delivered: they are "
                    "delivered again once their claims lapse, and the inbox skips them",
                    len(delivered),
                    alias,
                    route,
                    extra={"route": route},
                )

    def _write_delivered(
        self, alias: str, route: str, delivered: list[tuple[Delivery, Envelope]]
    ) -> RelayReport:
        ids = [delivery.pk for delivery, _ in delivered]
        tokens = sorted({delivery.claimed_by for delivery, _ in delivered})
        if self.deletes_on_delivery:
            mine = Delivery.objects.using(alias).filter(pk__in=ids, claimed_by__in=tokens)
            recorded = mine.delete()[0]
            forget_events(alias, {delivery.event_id for delivery, _ in delivered})
        else:
            recorded = mark_delivered(alias, ids, tokens, timezone.now())
        EVENTS_DELIVERED.labels(alias, route).inc(recorded)
        if log.isEnabledFor(logging.INFO):
            for delivery, envelope in delivered:
                log.info(
                    "delivered %s to %s",
                    envelope.event_name,
                    route,
                    extra=self._fields(alias, delivery, envelope),
                )
        if recorded < len(delivered):
            lost = self._lost(alias, route, len(delivered) - recorded)
            lost.delivered = recorded
            return lost
        return RelayReport(delivered=recorded)

    def postponed(
        self, alias: str, deliveries: list[Delivery], until: datetime, reason: str
    ) -> RelayReport:
        """Releases deliveries whose route is down until its next probe, attempts untouched:
        in one statement, and due at the same moment for every relay."""
        if not deliveries:
            return RelayReport()
        changes: dict[str, object] = {
            "next_attempt_at": Now() + max(until - timezone.now(), timedelta(0))
        }
        if reason:
            changes["last_error"] = f"route unavailable: {reason}"[:4000]
        _release(alias, deliveries, changes)
        return RelayReport(waiting=len(deliveries))

    def deferred(self, alias: str, deliveries: list[Delivery]) -> RelayReport:
        """Releases deliveries that were not started because a handler of theirs ran as many
        deliveries as its concurrency allows: due again at once (the next sweep takes them),
        attempts untouched, while the thread that had them goes on to others."""
        if not deliveries:
            return RelayReport()
        _release(alias, deliveries, {"next_attempt_at": Now()})
        return RelayReport(deferred=len(deliveries))

    def failed(
        self, alias: str, delivery: Delivery, outcome: Outcome, envelope: Envelope | None
    ) -> RelayReport:
        """Records a failure: due again after a backoff, or dead."""
        fields = self._fields(alias, delivery, envelope)
        attempts = delivery.attempts + 1
        dead = outcome.permanent or self.policy.exhausted(attempts)
        delay = self.policy.delay(attempts)
        changes: dict[str, object] = {
            "attempts": attempts,
            "claimed_by": "",
            "claimed_until": None,
            "updated_at": Now(),
            "last_error": outcome.error[:4000],
        }
        if dead:
            changes |= {"status": DeliveryStatus.DEAD, "dead_at": Now()}
        else:
            changes |= {"next_attempt_at": Now() + delay}
        # Only while this relay still holds the claim: one it lost is another relay's to record.
        mine = Delivery.objects.using(alias).filter(pk=delivery.pk, claimed_by=delivery.claimed_by)
        if not mine.update(**changes):
            return self._lost(alias, delivery.route, 1)
        if dead:
            EVENTS_DEAD.labels(alias, delivery.route).inc()
            log.error(
                "dead letter: %s %s to %s after %d attempt(s): %s",
                fields["event_name"],
                delivery.event_id,
                delivery.route,
                attempts,
                outcome.error,
                extra=fields,
            )
            return RelayReport(dead=1, errors=[outcome.error])
        EVENTS_RETRIED.labels(alias, delivery.route).inc()
        log.warning(
            "%s to %s failed (attempt %d), next attempt in %.1f s: %s",
            fields["event_name"],
            delivery.route,
            attempts,
            delay.total_seconds(),
            outcome.error,
            extra=fields,
        )
        return RelayReport(retried=1, errors=[outcome.error])

    def _lost(self, alias: str, route: str, count: int) -> RelayReport:
        """The claim lapsed while this relay worked (a send or a handler outlived
        MODULITH_CLAIM_SECONDS) and another relay took the deliveries over: their outcome is
        the other relay's to record. The inbox absorbs a second delivery."""
        CLAIMS_LOST.labels(alias, route).inc(count)
        log.error(
            "lost the claim on %d deliveries of %s to %s before recording their outcome: "
            "they were held longer than MODULITH_CLAIM_SECONDS=%s",
            count,
            alias,
            route,
            self.lease.total_seconds(),
            extra={"route": route},
        )
        return RelayReport(lost=count)

    @staticmethod
    def _fields(alias: str, delivery: Delivery, envelope: Envelope | None) -> dict[str, str]:
        """A log line's fields: the module (its name is its database alias) and the event's
        trace."""
        return event_fields(
            module=alias,
            event_id=delivery.event_id,
            event_name=delivery.event.event_name,
            data=envelope.data if envelope else None,
            traceparent=envelope.traceparent if envelope else None,
        ) | {"route": delivery.route}


def _release(alias: str, deliveries: list[Delivery], changes: dict[str, object]) -> None:
    """Gives up this relay's claim on the deliveries, with `changes`, in one statement."""
    Delivery.objects.using(alias).filter(
        pk__in=[delivery.pk for delivery in deliveries],
        claimed_by__in={delivery.claimed_by for delivery in deliveries},
    ).update(claimed_by="", claimed_until=None, updated_at=Now(), **changes)
