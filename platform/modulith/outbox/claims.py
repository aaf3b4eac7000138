"""Claiming due deliveries, so that several relays share one backlog and none sends what
another holds.

One transaction per claim: the due rows are selected (on PostgreSQL `FOR UPDATE SKIP LOCKED`,
so concurrent relays take different rows instead of queueing for the same ones; on SQLite the
transaction's write lock, taken at BEGIN, already keeps other writers out) and stamped with
this claim's token and lease. Every time is the database's clock (`Now()`), so relays on
servers whose clocks disagree still agree on what is due and whose claim has lapsed. A claim
takes an ordered delivery only when its turn has come (`modulith.outbox.ordering`), so at
most one of each route and key.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.outbox.ordering import KeyLine, KeyOrder

# What the relay reads of a claimed delivery and its event. The other columns (five dates of
# the delivery, two of the event) would cost a conversion each for every row claimed: most of
# a drain's Python time (measured: benchmarks/drain.py). Reading a column not listed here
# still works, with one query more.
CLAIMED_FIELDS = (
    "id",
    "route",
    "status",
    "attempts",
    "claimed_by",
    "ordering_key",
    "event",
    "event__id",
    "event__event_name",
    "event__wire",
)


class Claims:
    def __init__(self, lease: timedelta, order: KeyOrder | None = None) -> None:
        self.lease = lease
        self.order = order or KeyOrder()
        # What this process claims as it publishes (see `at_publish`).
        self.publisher_token = uuid.uuid4().hex
        # Whether this process has claimed anything as it published (nothing to wait for if not).
        self.claimed_at_publish = False

    def at_publish(self) -> dict[str, object]:
        """The claim a delivery is stored with when this process delivers it right after the
        commit (inline or on its threads): no other relay takes it meanwhile, and none of the
        claim's statements are needed. If the process dies first, the claim lapses and a sweep
        delivers it."""
        self.claimed_at_publish = True
        return {"claimed_by": self.publisher_token, "claimed_until": timezone.now() + self.lease}

    @staticmethod
    def still_held(deliveries: Sequence[Delivery]) -> bool:
        """Whether the claims made at publish have not lapsed yet, by this server's clock (the
        one that set them)."""
        now = timezone.now()
        return all(d.claimed_until is not None and d.claimed_until > now for d in deliveries)

    def held(self, alias: str, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Those of the deliveries this process claimed as it published them that it still
        holds: one statement; a delivery of a rolled-back savepoint is not among them."""
        held = set(
            Delivery.objects.using(alias)
            .filter(
                id__in=[delivery.pk for delivery in deliveries],
                claimed_by=self.publisher_token,
                claimed_until__gt=Now(),
                status=DeliveryStatus.PENDING,
            )
            .values_list("id", flat=True)
        )
        return [delivery for delivery in deliveries if delivery.pk in held]

    def release(self, alias: str, ids: Collection[int]) -> None:
        """Hands back deliveries this process claimed as it published them: any relay takes
        them when their turn comes."""
        Delivery.objects.using(alias).filter(
            id__in=list(ids), claimed_by=self.publisher_token
        ).update(claimed_by="", claimed_until=None)

    def still_held_at_publish(self, alias: str) -> int:
        """How many deliveries this process claimed as it published them still wait for it:
        neither delivered nor handed back (a failure, a route down) yet."""
        if not self.claimed_at_publish:
            return 0
        return (
            Delivery.objects.using(alias)
            .filter(
                claimed_by=self.publisher_token,
                claimed_until__gt=Now(),
                status=DeliveryStatus.PENDING,
            )
            .count()
        )

    def take(
        self,
        alias: str,
        ids: Sequence[int] | None = None,
        *,
        batch: int = 100,
        skip: Collection[int] = (),
        lines: Collection[KeyLine] = (),
    ) -> list[Delivery]:
        """Claims these deliveries (or the `batch` longest due, but those in `skip`; or the
        next of these routes' and keys' `lines`) if they are due, their turn has come and
        nobody else holds them; returns them with their events, in the order they were
        stored."""
        token = uuid.uuid4().hex
        due = Delivery.objects.using(alias).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=Now()),
            self.order.turn_has_come(),
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=Now(),
        )
        if ids is not None:
            due = due.filter(id__in=list(ids)).order_by("id")
        elif lines:
            due = due.filter(self.order.on_lines(lines)).order_by("id")[:batch]
        else:
            due = due.exclude(id__in=list(skip)).order_by("next_attempt_at", "id")[:batch]
        with transaction.atomic(using=alias):
            claimed = list(
                due.select_related("event")
                .only(*CLAIMED_FIELDS)
                .select_for_update(skip_locked=True, of=("self",))
            )
            if not claimed:
                return []
            # Claimed, a scheduled delivery may be sent at any moment: no cancel stops it now
            # (`modulith.bus.scheduling`).
            Delivery.objects.using(alias).filter(id__in=[d.pk for d in claimed]).update(
                claimed_by=token, claimed_until=Now() + self.lease, cancellable=False
            )
        for delivery in claimed:
            delivery.claimed_by = token
        if ids is None:
            claimed.sort(key=lambda delivery: delivery.pk)
        return claimed
