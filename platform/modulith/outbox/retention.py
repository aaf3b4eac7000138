"""How long the outbox and the inbox remember, and the purge that keeps them bounded.

Like Spring Modulith's completion modes: delivered events (and their deliveries) are kept for
MODULITH_OUTBOX_RETENTION, for inspection, then deleted; `0` deletes them as they are
delivered. Scheduled events that were cancelled are kept as long from their cancel (with `0`,
until the next sweep). Inbox records are kept for MODULITH_INBOX_RETENTION, which must cover
every way an event can come back (a redelivery, a replay from a dead-letter queue): forgetting
a record earlier would let a late duplicate have a second effect; the records other parts keep
about handling (the SQS consumer's handling failures) are kept as long, and named by the
composition root. Dead letters and pending deliveries are never purged.

The purge runs in bounded batches from the periodic sweep (so no instance does a long
delete), with `FOR UPDATE SKIP LOCKED` on PostgreSQL so several relays share it instead of
queueing on the same rows; each statement uses an index, so it costs the same whatever the
history. Each kind is first looked for without a transaction or a lock: most sweeps find
nothing to purge, and the locked batch's write transaction (on SQLite a write lock) was most
of what an idle sweep cost (`benchmarks/idle_sweep.py`).
"""

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Model, QuerySet
from django.db.models.functions import Now

from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.modules.errors import ConfigurationError

# The longest a message can come back: SQS keeps one at most 14 days, in its dead-letter queue
# too, and a replay from there is a redelivery.
REDELIVERY_WINDOW = timedelta(days=14)


@dataclass
class PurgeReport:
    deliveries: int = 0
    events: int = 0
    inbox_records: int = 0
    # Rows of the tables kept with the inbox, by their plural name ("handling failures").
    kept_with_inbox: dict[str, int] = field(default_factory=dict)

    def add(self, other: "PurgeReport") -> None:
        self.deliveries += other.deliveries
        self.events += other.events
        self.inbox_records += other.inbox_records
        for name, count in other.kept_with_inbox.items():
            self.kept_with_inbox[name] = self.kept_with_inbox.get(name, 0) + count

    @property
    def rows(self) -> int:
        return (
            self.deliveries + self.events + self.inbox_records + sum(self.kept_with_inbox.values())
        )

    def __str__(self) -> str:
        kept = "".join(f", {count} {name}" for name, count in self.kept_with_inbox.items())
        return (
            f"purged {self.deliveries} deliveries, {self.events} events, "
            f"{self.inbox_records} inbox records{kept}"
        )


@dataclass(frozen=True)
class Retention:
    outbox: timedelta = timedelta(days=7)
    inbox: timedelta = REDELIVERY_WINDOW
    batch_size: int = 1000
    # Tables kept as long as the inbox, each with the field that says when a row was written.
    kept_with_inbox: Mapping[type[Model], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.inbox < REDELIVERY_WINDOW:
            raise ConfigurationError(
                f"MODULITH_INBOX_RETENTION={_days(self.inbox)} is shorter than the redelivery "
                f"window ({_days(REDELIVERY_WINDOW)}, the longest a dead-letter queue keeps a "
                "message): a late duplicate would have a second effect"
            )

    @property
    def deletes_on_delivery(self) -> bool:
        return not self.outbox

    def purge(
        self, alias: str, *, outbox: timedelta | None = None, batches: int | None = None
    ) -> PurgeReport:
        """Deletes, in batches, what is past its retention (or `outbox`, if given) in one
        module database; at most `batches` batches of each kind (None: until done)."""
        keep = self.outbox if outbox is None else outbox
        report = PurgeReport()
        done = Delivery.objects.using(alias)
        # Delivered, and scheduled then cancelled: each kind found by its own index.
        self._delete_deliveries(
            alias,
            done.filter(status=DeliveryStatus.DELIVERED, delivered_at__lt=Now() - keep),
            batches,
            report,
        )
        self._delete_deliveries(
            alias,
            done.filter(status=DeliveryStatus.CANCELLED, cancelled_at__lt=Now() - keep),
            batches,
            report,
        )
        # Events that never had a delivery (nobody subscribed) age out the same way.
        unrouted = OutboxEvent.objects.using(alias).filter(
            created_at__lt=Now() - keep, deliveries__isnull=True
        )
        report.events += self._delete(alias, unrouted, batches)
        handled = InboxRecord.objects.using(alias).filter(handled_at__lt=Now() - self.inbox)
        report.inbox_records = self._delete(alias, handled, batches)
        for model, written_at in self.kept_with_inbox.items():
            expired = model._default_manager.using(alias).filter(
                **{f"{written_at}__lt": Now() - self.inbox}
            )
            name = str(model._meta.verbose_name_plural)
            report.kept_with_inbox[name] = self._delete(alias, expired, batches)
        return report

    def _delete_deliveries(
        self, alias: str, rows: QuerySet[Delivery], batches: int | None, report: PurgeReport
    ) -> None:
        """Deletes these deliveries, and each event once its last delivery is gone."""
        if not rows.exists():  # looked for without a lock first (the module's docstring)
            return
        for _ in self._batches(batches):
            with transaction.atomic(using=alias):
                chosen = list(_oldest(rows, self.batch_size).values_list("pk", "event_id"))
                Delivery.objects.using(alias).filter(pk__in=[pk for pk, _ in chosen]).delete()
                report.deliveries += len(chosen)
                report.events += forget_events(alias, {event_id for _, event_id in chosen})
            if len(chosen) < self.batch_size:
                break

    def _delete(self, alias: str, rows: QuerySet[Any], batches: int | None) -> int:
        if not rows.exists():  # looked for without a lock first (the module's docstring)
            return 0
        deleted = 0
        for _ in self._batches(batches):
            with transaction.atomic(using=alias):
                chosen = list(_oldest(rows, self.batch_size).values_list("pk", flat=True))
                deleted += rows.model.objects.using(alias).filter(pk__in=chosen).delete()[0]
            if len(chosen) < self.batch_size:
                break
        return deleted

    @staticmethod
    def _batches(batches: int | None) -> Iterator[int]:
        return itertools.count() if batches is None else iter(range(batches))


def _oldest(rows: QuerySet[Any], size: int) -> QuerySet[Any]:
    """The next batch, locked; rows another relay is purging are skipped, not waited for."""
    return rows.select_for_update(skip_locked=True, of=("self",))[:size]


def forget_events(alias: str, event_ids: set[UUID]) -> int:
    """Deletes those of these events that have no delivery left."""
    return (
        OutboxEvent.objects.using(alias)
        .filter(pk__in=event_ids, deliveries__isnull=True)
        .delete()[0]
    )


def _days(duration: timedelta) -> str:
    return f"{duration.total_seconds() / 86400:g}d"
