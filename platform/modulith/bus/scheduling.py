"""Scheduled events: published now, delivered when due, cancellable until a relay claims them.

A scheduled event is an outbox row like any other, its deliveries due later
(`next_attempt_at`): the relay's sweep claims and sends them once due, on every transport and
for any delay (the outbox holds them, so no broker's limit on delays applies), and a restart or
a kill loses nothing, since nothing is kept in memory. Until a relay claims a delivery it is
`cancellable`; the claim clears that in the same statement that takes it.

A cancel and a claim racing for the same event settle one way or the other, never both and
never neither: the cancel locks every delivery of the event (on PostgreSQL a claim in progress
finishes first, and later claims skip the locked rows; on SQLite the write lock orders them),
and cancels the event only if none of its deliveries has been claimed. The rows stay locked
until the publisher's transaction commits, so a cancel that rolls back with it cancels nothing.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from django.db import transaction
from django.db.models.functions import Now

from modulith.conf.installed import INSTALLED
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError
from modulith.observability.logs import event_fields

log = logging.getLogger(__name__)

KEY_LENGTH = 200  # OutboxEvent.schedule_key


@dataclass(frozen=True)
class Schedule:
    """When a scheduled event is due (a moment, or a delay from its publication), and the
    key its publisher may cancel it by."""

    deliver_at: datetime | None
    delay: timedelta | None
    key: str | None

    @classmethod
    def of(
        cls, *, deliver_at: datetime | None, delay: timedelta | None, key: str | None
    ) -> "Schedule | None":
        """The schedule `publish` was asked for (None: deliver at once); a clear error for
        arguments that name no moment."""
        if deliver_at is None and delay is None:
            if key:
                raise ValueError(
                    "schedule_key names a scheduled event: pass deliver_at= or delay= too"
                )
            return None
        if deliver_at is not None and delay is not None:
            raise ValueError("publish takes deliver_at= or delay=, not both")
        if deliver_at is not None and (
            not isinstance(deliver_at, datetime) or deliver_at.utcoffset() is None
        ):
            raise ValueError(
                f"deliver_at must be an aware datetime (timezone.now() + timedelta(...)), not "
                f"{deliver_at!r}: a naive one would mean another moment on another server"
            )
        if delay is not None and (not isinstance(delay, timedelta) or delay < timedelta(0)):
            raise ValueError(f"delay must be a timedelta of zero or more, not {delay!r}")
        if key is not None and not (isinstance(key, str) and 0 < len(key) <= KEY_LENGTH):
            raise ValueError(
                f"schedule_key must be a string of 1 to {KEY_LENGTH} characters, not {key!r}"
            )
        return cls(deliver_at, delay, key or None)

    def due(self, published_at: datetime) -> datetime:
        """When the event is due, if it was published at `published_at`."""
        if self.deliver_at is not None:
            return self.deliver_at
        assert self.delay is not None
        return published_at + self.delay


class _Running(Protocol):
    """What cancelling reads of the installed runtime."""

    @property
    def topology(self) -> Topology: ...


def cancel_scheduled(
    *, key: str | None = None, event_id: UUID | str | None = None, using: str | None = None
) -> int:
    """Cancels the scheduled events published with this `schedule_key` (every one still
    waiting), or the one with this id, unless a relay has claimed it already; returns how many
    it cancelled (0: none was waiting any more: claimed, delivered, cancelled before, never
    scheduled, or unknown).

    Runs in the publisher's transaction (`transaction.atomic(using=<its module's database>)`,
    the one open on this thread, or the one named by `using`), so the cancel commits or rolls
    back with the writes that decided it. Keys are looked up in that module database.
    """
    if (key is None) == (event_id is None):
        raise TypeError("cancel_scheduled takes key= or event_id=, one of them")
    alias = _database(using)
    deliveries = Delivery.objects.using(alias).filter(event__deliver_at__isnull=False)
    if key is not None:
        deliveries = deliveries.filter(event__schedule_key=key)
    else:
        deliveries = deliveries.filter(event_id=_event_id(event_id))
    # Locked, all of each event's deliveries: a claim in progress commits first, and a later
    # one skips them until this transaction ends.
    locked = deliveries.select_for_update(of=("self",)).order_by("id")
    by_event: dict[UUID, list[Delivery]] = defaultdict(list)
    names: dict[UUID, str] = {}
    for delivery in locked.select_related("event").only(
        "id", "event_id", "status", "cancellable", "event__event_name"
    ):
        by_event[delivery.event_id].append(delivery)
        names[delivery.event_id] = delivery.event.event_name
    waiting = {
        event: [delivery.pk for delivery in rows]
        for event, rows in by_event.items()
        if all(d.status == DeliveryStatus.PENDING and d.cancellable for d in rows)
    }
    if waiting:
        Delivery.objects.using(alias).filter(
            pk__in=[pk for pks in waiting.values() for pk in pks]
        ).update(
            status=DeliveryStatus.CANCELLED,
            cancellable=False,
            cancelled_at=Now(),
            updated_at=Now(),
        )

    def cancelled() -> None:  # a named function: Django logs a failing hook by its name
        for event in waiting:
            fields = event_fields(module=alias, event_id=event, event_name=names[event])
            log.info("cancelled scheduled %s %s", names[event], event, extra=fields)

    transaction.on_commit(cancelled, using=alias, robust=True)
    return len(waiting)


def _event_id(value: UUID | str | None) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise ValueError(f"event_id must be an event's id (a UUID), not {value!r}") from None


def _database(using: str | None) -> str:
    """The module database the cancel runs in: `using`, or the one whose transaction is open
    on this thread; it must be a running module's, in a transaction."""
    running: _Running = INSTALLED.runtime
    databases = list(dict.fromkeys(m.database for m in running.topology.running_modules))
    if using is not None and using not in databases:
        raise ConfigurationError(
            f"cancel_scheduled(using={using!r}): no module running here has that database "
            f"(running: {', '.join(databases)})"
        )
    in_transaction = [
        alias
        for alias in ([using] if using is not None else databases)
        if transaction.get_connection(alias).in_atomic_block
    ]
    if len(in_transaction) != 1:
        where = repr(using) if using is not None else "<the publishing module's database>"
        several = f" (open on {', '.join(in_transaction)}: name one with using=)"
        raise RuntimeError(
            f"cancel_scheduled inside transaction.atomic(using={where}) so the cancel commits "
            "with the writes that decided it" + (several if in_transaction else "")
        )
    return in_transaction[0]
