"""The outbox's tables (events, their deliveries, dead letters) and the inbox's. Each module
database holds its own copy of them.

No router sends these models anywhere: every query names its database with `.using(alias)`,
because the same table exists once per module.
"""

from typing import ClassVar

from django.db import models


class OutboxEvent(models.Model):
    """An event as published, in its wire form, committed with the publisher's writes."""

    id = models.UUIDField(primary_key=True)
    event_name = models.CharField(max_length=200)
    source = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    trace_id = models.CharField(max_length=64, blank=True)
    wire = models.JSONField(help_text="The event in the wire format every transport carries.")
    created_at = models.DateTimeField(auto_now_add=True)
    # A scheduled event (`publish(event, deliver_at=...)` or `delay=...`): when it is due, and
    # the key its publisher may cancel it by. NULL for an event delivered at once, and for a
    # key none was given: the key's index holds keyed events only, and both databases use it
    # for `schedule_key = %s` (SQLite takes a partial index whose condition is IS NOT NULL).
    deliver_at = models.DateTimeField("scheduled for", null=True, blank=True)
    schedule_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["created_at"]
        verbose_name = "outbox event"
        indexes = [
            models.Index(fields=["created_at"], name="outbox_event_created_idx"),
            # Only keyed events, for a cancel by key: an event published at once is not in it.
            models.Index(
                fields=["schedule_key"],
                condition=models.Q(schedule_key__isnull=False),
                name="outbox_event_schedule_key_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_name} {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"
    CANCELLED = "CANCELLED"  # a scheduled delivery cancelled before any relay claimed it


class Delivery(models.Model):
    """One event on its way to one route (a subscribing module, a queue or a bus)."""

    # Deleted by the purge, before their event: DO_NOTHING lets both be deleted in one
    # statement each (the database's foreign key still refuses an event with deliveries).
    # No index of its own: the (event, route) unique key leads with it. Every index is one
    # more page each publishing transaction writes.
    event = models.ForeignKey(
        OutboxEvent, on_delete=models.DO_NOTHING, related_name="deliveries", db_index=False
    )
    route = models.CharField(max_length=100)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_by = models.CharField(max_length=36, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    # A scheduled delivery no relay has claimed yet: `cancel_scheduled` may still cancel it.
    # The claim clears it, so a cancel never stops what a relay may already have sent. (A
    # default in the database too: processes of the release before keep inserting deliveries
    # while a rollout runs, without this column.)
    cancellable = models.BooleanField(
        "cancellable (scheduled, not claimed yet)", default=False, db_default=False
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The value its event is ordered by (the event type's `ordering_key`), NULL for an event
    # whose type keeps no order: a claim takes it only once no earlier delivery of the same
    # route and key is pending or dead (`modulith.outbox.ordering`).
    ordering_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "route"], name="delivery_event_route_unique")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            # Only delivered rows, for the purge: a delivery published is not in it. It leads
            # with the status the purge names, or SQLite prefers delivery_due_idx (status=?)
            # and reads every delivered row at every sweep.
            models.Index(
                fields=["status", "delivered_at"],
                condition=models.Q(delivered_at__isnull=False),
                name="delivery_delivered_idx",
            ),
            # Only ordered rows, for a claim's look for an earlier delivery of the same route and
            # key still in the way: an unordered delivery is not in it, and the status keeps
            # the look off the key's delivered past.
            models.Index(
                fields=["route", "ordering_key", "status"],
                condition=models.Q(ordering_key__isnull=False),
                name="delivery_ordering_idx",
            ),
            # Only cancelled rows, for the purge, as delivered ones.
            models.Index(
                fields=["status", "cancelled_at"],
                condition=models.Q(cancelled_at__isnull=False),
                name="delivery_cancelled_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.route} ({self.status})"


class DeadLetterManager(models.Manager["DeadLetter"]):
    def get_queryset(self) -> models.QuerySet["DeadLetter"]:
        return super().get_queryset().filter(status=DeliveryStatus.DEAD)


class DeadLetter(Delivery):
    """A delivery that ran out of attempts, or could never succeed: kept for inspection."""

    objects: ClassVar[DeadLetterManager] = DeadLetterManager()

    class Meta:
        proxy = True


class InboxRecord(models.Model):
    """A subscriber's handler has handled an event: written in the same transaction as its
    effects. (An empty `handler` stands for every handler of the subscriber.)"""

    event_id = models.UUIDField()
    subscriber = models.CharField(max_length=100)
    handler = models.CharField(max_length=200, blank=True, default="")
    event_name = models.CharField(max_length=200)
    handled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "inbox record"
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "subscriber", "handler"],
                name="inbox_event_subscriber_handler_unique",
            )
        ]
        indexes = [models.Index(fields=["handled_at"], name="inbox_handled_idx")]

    def __str__(self) -> str:
        return f"{self.subscriber} handled {self.event_name} {self.event_id}"
