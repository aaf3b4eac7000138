"""The relay: hands committed deliveries to the transport, records what became of them."""

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError
from django.db.models.functions import Now
from django.utils import timezone

from modulith.bus.envelope import Envelope, MalformedEvent
from modulith.observability.logs import event_fields
from modulith.observability.metrics import (
    CLAIMS_LOST,
    EVENTS_DEAD,
    EVENTS_DELIVERED,
    EVENTS_RETRIED,
)
from modulith.outbox.claims import Claims
from modulith.outbox.models import Delivery, DeliveryStatus
from modulith.outbox.outages import RouteBreaker
from modulith.outbox.retention import Retention, forget_events
from modulith.outbox.retry import RetryPolicy
from modulith.outbox.statements import mark_delivered
from modulith.transports.base import UNLIMITED_BYTES, Outcome, Transport

log = logging.getLogger(__name__)

# A claimed delivery is left alone by other relays until its claim lapses; a relay that dies
# mid-send therefore delays its deliveries by this much, and loses none. Keep it above the
# longest send plus handling (MODULITH_CLAIM_SECONDS); the AWS clients that send are timed
# to stay well within it.
CLAIM_SECONDS = 15

# A sweep purges at most this many batches of each kind per module database (the retention's
# batch size each), so it never holds the database for long; the next sweep goes on.
PURGE_BATCHES = 5

# What an entry carries besides the event: attributes, source, detail-type, framing.
ENTRY_OVERHEAD_BYTES = 1024

# Hands what a transaction published, once committed, to whatever delivers it; `certain`
# says every one of the deliveries was committed (none was in a rolled-back savepoint).
Scheduler = Callable[[str, list[Delivery], bool], object]


@dataclass
class RelayReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    # Not attempted: their route is down. They wait, attempts untouched.
    waiting: int = 0
    # Attempted, but another relay had taken them over meanwhile: not recorded here.
    lost: int = 0
    # Rows past their retention, deleted by the sweep.
    purged: int = 0
    # A sweep reached its limit in some module database: more may be due right now.
    more_due: bool = False
    errors: list[str] = field(default_factory=list)

    def add(self, other: "RelayReport") -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead
        self.waiting += other.waiting
        self.lost += other.lost
        self.purged += other.purged
        self.more_due = self.more_due or other.more_due
        self.errors += other.errors

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.dead + self.waiting + self.lost

    def __str__(self) -> str:
        text = f"delivered {self.delivered}, retried {self.retried}, dead {self.dead}"
        if self.waiting:
            text += f", waiting for their route {self.waiting}"
        if self.lost:
            text += f", claims lost {self.lost}"
        if self.purged:
            text += f", purged {self.purged} rows"
        return text


class Relay:
    def __init__(
        self,
        transport: Transport,
        policy: RetryPolicy,
        claim_seconds: float = CLAIM_SECONDS,
        outages: RouteBreaker | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.transport = transport
        self.policy = policy
        self.claims = Claims(timedelta(seconds=claim_seconds))
        self.outages = outages or RouteBreaker(transport.name)
        self.retention = retention or Retention()
        self.scheduler: Scheduler = self.deliver_published
        # Whether deliveries are claimed as they are published, for this process to deliver
        # right after the commit (inline, its threads); not when a worker delivers them later.
        self.claims_at_publish = True

    def schedule(self, alias: str, deliveries: list[Delivery], *, certain: bool) -> None:
        """Called after commit: deliver now (inline, on a thread) or through a Celery task."""
        self.scheduler(alias, deliveries, certain)

    def deliver_published(
        self, alias: str, deliveries: list[Delivery], certain: bool = False
    ) -> RelayReport:
        """Delivers what this process just published and committed, as it was stored."""
        if not self.claims_at_publish:
            return self.deliver(alias, [delivery.pk for delivery in deliveries])
        return self._send(alias, deliveries if certain else self.claims.held(alias, deliveries))

    def deliver(self, alias: str, delivery_ids: Sequence[int]) -> RelayReport:
        """Delivers these deliveries if they are due and nobody else holds them."""
        return self._send(alias, self.claims.take(alias, delivery_ids))

    def drain(self, aliases: Iterable[str], stop: threading.Event | None = None) -> RelayReport:
        """Sweeps until nothing more is due (or `stop` is set): a backlog goes out as fast as
        the transport takes it, not one sweep per interval."""
        aliases = list(aliases)
        total = RelayReport()
        while True:
            report = self.sweep(aliases)
            total.add(report)
            if not report.more_due or (stop is not None and stop.is_set()):
                total.more_due = report.more_due
                return total

    def sweep(self, aliases: Iterable[str], *, limit: int = 500) -> RelayReport:
        """Makes one attempt at whatever is due in the given module databases, up to `limit`
        deliveries each; a delivery that fails now waits for a later sweep."""
        report = RelayReport()
        for alias in aliases:
            try:
                report.add(self._sweep(alias, limit))
                report.purged += self.retention.purge(alias, batches=PURGE_BATCHES).rows
            except DatabaseError as error:  # this outbox is down; the others are not
                log.warning("cannot sweep the outbox of %s: %s", alias, error)
        return report

    def _sweep(self, alias: str, limit: int) -> RelayReport:
        report = RelayReport()
        attempted: set[int] = set()
        while len(attempted) < limit:
            claimed = self.claims.take(
                alias, batch=min(limit - len(attempted), 100), skip=attempted
            )
            if not claimed:
                break
            attempted.update(delivery.pk for delivery in claimed)
            report.add(self._send(alias, claimed))
        report.more_due = len(attempted) >= limit
        return report

    def _send(self, alias: str, deliveries: list[Delivery]) -> RelayReport:
        report = RelayReport()
        by_route: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            by_route[delivery.route].append(delivery)
        for route, batch in by_route.items():
            if probe_at := self.outages.waiting_until(route):
                report.add(self._postpone(alias, batch, probe_at, ""))
                continue
            report.add(self._send_route(alias, route, batch))
        return report

    def _send_route(self, alias: str, route: str, batch: list[Delivery]) -> RelayReport:
        report = RelayReport()
        chunks = list(self._chunks(batch))
        for index, chunk in enumerate(chunks):
            sent, unreached, reason = self._send_chunk(alias, route, chunk)
            report.add(sent)
            if unreached:  # the route is down: these and the rest wait for its next probe
                probe_at = self.outages.failed(route, reason)
                waiting = unreached + [d for later in chunks[index + 1 :] for d in later]
                report.add(self._postpone(alias, waiting, probe_at, reason))
                return report
        self.outages.succeeded(route)
        return report

    def _chunks(self, batch: list[Delivery]) -> Iterator[list[Delivery]]:
        """Batches within both of the transport's limits: entries and bytes per call."""
        if self.transport.max_batch_bytes >= UNLIMITED_BYTES:  # nothing leaves the process
            size = self.transport.batch_size
            yield from (batch[start : start + size] for start in range(0, len(batch), size))
            return
        chunk: list[Delivery] = []
        size = 0
        for delivery in batch:
            wire = json.dumps(delivery.event.wire, separators=(",", ":")).encode()
            entry = len(wire) + ENTRY_OVERHEAD_BYTES
            full = len(chunk) == self.transport.batch_size
            if chunk and (full or size + entry > self.transport.max_batch_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(delivery)
            size += entry
        if chunk:
            yield chunk

    def _send_chunk(
        self, alias: str, route: str, chunk: list[Delivery]
    ) -> tuple[RelayReport, list[Delivery], str]:
        """Sends one batch; returns what became of it, the deliveries that did not get through
        because the route (or what a subscriber needs) is down, and why."""
        report = RelayReport()
        sendable: list[tuple[Delivery, Envelope]] = []
        for delivery in chunk:
            try:
                sendable.append((delivery, Envelope.from_wire(delivery.event.wire)))
            except MalformedEvent as error:  # a damaged outbox row: never sendable
                report.add(self._record(alias, delivery, Outcome(False, str(error), True), None))
        if not sendable:
            return report, [], ""
        try:
            # Just published and claimed by this process: nobody can have handled them yet.
            first = all(
                delivery.attempts == 0 and delivery.claimed_by == self.claims.publisher_token
                for delivery, _ in sendable
            )
            outcomes = self.transport.send(
                route, [envelope for _, envelope in sendable], first_attempt=first
            )
        except Exception as error:  # unreachable or throttling: not the events' fault
            return (
                report,
                [delivery for delivery, _ in sendable],
                f"{type(error).__name__}: {error}",
            )
        unreached: list[Delivery] = []
        delivered: list[tuple[Delivery, Envelope]] = []
        reason = ""
        for (delivery, envelope), outcome in zip(sendable, outcomes, strict=True):
            if outcome.ok:
                delivered.append((delivery, envelope))
            elif outcome.unavailable:
                unreached.append(delivery)
                reason = reason or outcome.error
            else:
                report.add(self._record(alias, delivery, outcome, envelope))
        report.add(self._record_delivered(alias, route, delivered))
        return report, unreached, reason

    def _record_delivered(
        self, alias: str, route: str, delivered: list[tuple[Delivery, Envelope]]
    ) -> RelayReport:
        """Records a batch's successes in one statement (or deletes them, when nothing
        delivered is kept), only where this relay still holds the claim."""
        if not delivered:
            return RelayReport()
        ids = [delivery.pk for delivery, _ in delivered]
        tokens = sorted({delivery.claimed_by for delivery, _ in delivered})
        if self.retention.deletes_on_delivery:
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

    def _postpone(
        self, alias: str, deliveries: list[Delivery], until: datetime, reason: str
    ) -> RelayReport:
        """Releases deliveries whose route is down until its next probe, attempts untouched:
        in one statement, and due at the same moment for every relay."""
        if not deliveries:
            return RelayReport()
        changes: dict[str, object] = {
            "next_attempt_at": Now() + max(until - timezone.now(), timedelta(0)),
            "claimed_by": "",
            "claimed_until": None,
            "updated_at": Now(),
        }
        if reason:
            changes["last_error"] = f"route unavailable: {reason}"[:4000]
        Delivery.objects.using(alias).filter(
            pk__in=[delivery.pk for delivery in deliveries],
            claimed_by__in={delivery.claimed_by for delivery in deliveries},
        ).update(**changes)
        return RelayReport(waiting=len(deliveries))

    def _record(
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
            self.claims.lease.total_seconds(),
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
