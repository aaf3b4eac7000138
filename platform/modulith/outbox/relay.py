"""The relay: claims committed deliveries, hands them to the transport route by route (backing
off a route that is down), and has their outcomes recorded (`outbox/outcomes.py`)."""

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

from django.db import DatabaseError

from modulith.conf import ModulithSettings
from modulith.database.store.envelopes import envelope_of
from modulith.database.store.models import Delivery
from modulith.outbox.claims import Claims
from modulith.outbox.ordering import KeyOrder
from modulith.outbox.outages import RouteBreaker
from modulith.outbox.outcomes import OutcomeRecorder, RelayReport
from modulith.outbox.rerouting import Rerouting
from modulith.outbox.retention import Retention
from modulith.outbox.retry import RetryPolicy
from modulith.transports.envelope import Envelope, MalformedEvent
from modulith.transports.transport import UNLIMITED_BYTES, Outcome, Transport

log = logging.getLogger(__name__)

# A sweep purges at most this many batches of each kind per module database (the retention's
# batch size each), so it never holds the database for long; the next sweep goes on.
PURGE_BATCHES = 5

# At most this many rounds of a key's next deliveries follow a delivery: the sweep goes on
# with a longer line.
FOLLOWING_ROUNDS = 100

# What an entry carries besides the event: attributes, source, detail-type, framing.
ENTRY_OVERHEAD_BYTES = 1024


class Relay:
    def __init__(
        self,
        transport: Transport,
        policy: RetryPolicy,
        claim_seconds: float = ModulithSettings.default("claim_seconds"),
        outages: RouteBreaker | None = None,
        retention: Retention | None = None,
        order: KeyOrder | None = None,
    ) -> None:
        self.transport = transport
        self.rerouting = Rerouting(transport.routes)
        self.policy = policy
        self.claims = Claims(timedelta(seconds=claim_seconds), order)
        self.outages = outages or RouteBreaker(transport.name)
        self.retention = retention or Retention()
        self.outcomes = OutcomeRecorder(
            policy, self.claims.lease, self.retention.deletes_on_delivery
        )

    def deliver_published(
        self, alias: str, deliveries: list[Delivery], *, all_stored: bool = False
    ) -> RelayReport:
        """Delivers what this process just published, committed and claimed as it stored it
        (an executor that delivers at publish calls it after the commit). `all_stored`: none
        was published in a savepoint that rolled back."""
        # Waited longer than the claim lasts (a busy pool)? A sweep may have taken them: ask.
        if not all_stored or not self.claims.still_held(deliveries):
            deliveries = self.claims.held(alias, deliveries)
        if all(delivery.ordering_key is None for delivery in deliveries):
            return self._send(alias, deliveries, routed_here=True)
        return self._send_in_key_order(alias, deliveries)

    def _send_in_key_order(self, alias: str, deliveries: list[Delivery]) -> RelayReport:
        """Delivers those published deliveries whose turn has come (no earlier one of their
        route and key is pending or dead), hands the others back, then follows their keys."""
        self.outcomes.write_held()  # a cascade's earlier hops: delivered before these are seen
        if held_back := self.claims.order.held_back(
            alias, [d for d in deliveries if d.ordering_key is not None]
        ):
            self.claims.release(alias, held_back)
        report = self._send(
            alias, [d for d in deliveries if d.pk not in held_back], routed_here=True
        )
        report.add(self._follow_keys(alias, deliveries))
        return report

    def _follow_keys(self, alias: str, deliveries: list[Delivery]) -> RelayReport:
        """Takes the next deliveries of the keys of these (just sent, or handed back) as each
        one's turn comes: a key's later events, of the same transaction or of another that
        committed meanwhile, follow at once instead of at the next sweep. Each round takes at
        most one of each route and key; a key whose next delivery failed (or is not due)
        yields nothing more, and the sweep goes on with it later."""
        report = RelayReport()
        lines = self.claims.order.lines_of(deliveries)
        for _ in range(FOLLOWING_ROUNDS if lines else 0):
            self.outcomes.write_held()
            following = self.claims.take(alias, lines=lines)
            if not following:
                break
            report.add(self._send(alias, following))
        return report

    def deliver(self, alias: str, delivery_ids: Sequence[int]) -> RelayReport:
        """Delivers these deliveries if they are due, their turn has come and nobody else
        holds them; then the next of their keys, as for what is published."""
        taken = self.claims.take(alias, delivery_ids)
        report = self._send(alias, taken)
        report.add(self._follow_keys(alias, taken))
        return report

    def finish_published(self, aliases: Iterable[str], timeout: float) -> int:
        """Waits, at most `timeout` seconds, until what this process published and claimed to
        deliver itself after the commit is delivered or handed back (a failure, a route down:
        the claim is released, and any relay retries it); returns how many it still holds. A
        process that stops calls it last: what it committed leaves before it exits, and what
        cannot is found in the outbox by the next relay (at once, or when the claim lapses)."""
        aliases = list(aliases)
        deadline = time.monotonic() + timeout
        while True:
            held = sum(self.claims.still_held_at_publish(alias) for alias in aliases)
            if not held or time.monotonic() >= deadline:
                return held
            time.sleep(0.05)

    def drain(self, aliases: Iterable[str], stop: threading.Event | None = None) -> RelayReport:
        """Sweeps until nothing more is due (or `stop` is set): a backlog goes out as fast as
        the transport takes it, not one sweep per interval."""
        aliases = list(aliases)
        total = RelayReport()
        while True:
            report = self.sweep(aliases)
            total.add(report)
            # A handler run in this process may have published into a database swept earlier
            # in the pass: what it delivered may have made more due there.
            more_due = report.more_due or (len(aliases) > 1 and report.delivered > 0)
            if not more_due or (stop is not None and stop.is_set()):
                total.more_due = more_due
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

    def _send(
        self, alias: str, deliveries: list[Delivery], *, routed_here: bool = False
    ) -> RelayReport:
        """`routed_here`: this process just stored them with this transport's routes."""
        if not routed_here:
            deliveries = self._on_routes_in_use(alias, deliveries)
        report = RelayReport()
        by_route: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in deliveries:
            by_route[delivery.route].append(delivery)
        for route, batch in by_route.items():
            if probe_at := self.outages.waiting_until(route):
                report.add(self.outcomes.postponed(alias, batch, probe_at, ""))
                continue
            self._send_route(alias, route, batch, report)
        return report

    def _on_routes_in_use(self, alias: str, deliveries: list[Delivery]) -> list[Delivery]:
        """The deliveries, those stored by another transport (before MODULITH_TRANSPORT
        changed) rerouted to the routes of this one; those another relay now holds, or whose
        event's deliveries on this transport's routes stand for them, left out."""
        stale = self.rerouting.stale(deliveries)
        if not stale:
            return deliveries
        moved = {delivery.pk for delivery in stale}
        kept = [delivery for delivery in deliveries if delivery.pk not in moved]
        rerouted = [self.rerouting.reroute(alias, delivery) for delivery in stale]
        return kept + [delivery for delivery in rerouted if delivery is not None]

    def _send_route(
        self, alias: str, route: str, batch: list[Delivery], report: RelayReport
    ) -> None:
        """Sends a claimed batch to one route, call after call, counting what became of it in
        `report`, and records its successes in one statement at the end: one a call cost more
        than the relay's other work per event (benchmarks/relay_throughput.py). A slow route
        has them recorded once half the claim has passed, before any can lapse."""
        chunks = list(self._chunks(batch))
        delivered: list[tuple[Delivery, Envelope]] = []
        record_by = time.monotonic() + self.claims.lease.total_seconds() / 2
        for index, chunk in enumerate(chunks):
            unreached, reason = self._send_chunk(alias, route, chunk, report, delivered)
            if unreached:  # the route is down: these and the rest wait for its next probe
                report.add(self.outcomes.delivered(alias, route, delivered))
                probe_at = self.outages.failed(route, reason)
                waiting = unreached + [d for later in chunks[index + 1 :] for d in later]
                report.add(self.outcomes.postponed(alias, waiting, probe_at, reason))
                return
            if time.monotonic() > record_by:
                report.add(self.outcomes.delivered(alias, route, delivered))
                delivered = []
        report.add(self.outcomes.delivered(alias, route, delivered))
        self.outages.succeeded(route)

    def _chunks(self, batch: list[Delivery]) -> Iterator[list[Delivery]]:
        """Batches within both of the transport's limits: entries and bytes per call."""
        if self.transport.max_batch_bytes >= UNLIMITED_BYTES:  # nothing leaves the process
            size = self.transport.batch_size
            yield from (batch[start : start + size] for start in range(0, len(batch), size))
            return
        chunk: list[Delivery] = []
        size = 0
        for delivery in batch:
            entry = _body_bytes(delivery) + ENTRY_OVERHEAD_BYTES
            full = len(chunk) == self.transport.batch_size
            if chunk and (full or size + entry > self.transport.max_batch_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(delivery)
            size += entry
        if chunk:
            yield chunk

    def _send_chunk(
        self,
        alias: str,
        route: str,
        chunk: list[Delivery],
        report: RelayReport,
        delivered: list[tuple[Delivery, Envelope]],
    ) -> tuple[list[Delivery], str]:
        """Sends one batch, counting its failures in `report` and adding its successes to
        `delivered`, for the caller to record; returns the deliveries that did not get through
        because the route (or what a subscriber needs) is down, and why."""
        sendable: list[tuple[Delivery, Envelope]] = []
        for delivery in chunk:
            try:
                sendable.append((delivery, envelope_of(delivery.event)))
            except MalformedEvent as error:  # a damaged outbox row: never sendable
                report.add(
                    self.outcomes.failed(
                        alias, delivery, Outcome.dead(str(error), error.reason), None
                    )
                )
        if not sendable:
            return [], ""
        # Just published and claimed by this process: nobody can have handled them yet.
        first = all(
            delivery.attempts == 0 and delivery.claimed_by == self.claims.publisher_token
            for delivery, _ in sendable
        )
        try:
            outcomes = self.transport.send(
                route, [envelope for _, envelope in sendable], first_attempt=first
            )
        except Exception as error:  # unreachable or throttling: not the events' fault
            return [delivery for delivery, _ in sendable], f"{type(error).__name__}: {error}"
        unreached: list[Delivery] = []
        busy: list[Delivery] = []
        reason = ""
        for (delivery, envelope), outcome in zip(sendable, outcomes, strict=True):
            if outcome.ok:
                delivered.append((delivery, envelope))
            elif outcome.unavailable:
                unreached.append(delivery)
                reason = reason or outcome.error
            elif outcome.busy:
                busy.append(delivery)
            else:
                report.add(self.outcomes.failed(alias, delivery, outcome, envelope))
        report.add(self.outcomes.deferred(alias, busy))
        return unreached, reason


def _body_bytes(delivery: Delivery) -> int:
    """The size of the body the transport will send: the envelope's JSON, made here once and
    sent as it is (a damaged row, never sent, is sized by its stored form)."""
    try:
        return len(envelope_of(delivery.event).to_json().encode())
    except MalformedEvent:
        return len(json.dumps(delivery.event.wire, separators=(",", ":")).encode())
