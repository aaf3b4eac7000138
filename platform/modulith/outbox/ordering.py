"""Per-key ordering in the outbox: a delivery whose event declares an ordering key waits while
an earlier delivery (a lower id) of the same route and key is still in its way.

In the way is an earlier delivery that is pending (due, waiting for a retry, or claimed by a
relay) or dead, unless the route's subscriber chose to skip past its dead letters
(`Module.after_dead_letter = "skip"`); delivered and cancelled ones are not. Since a claim takes
only deliveries nothing is in the way of, and the first of a key stays pending until its
outcome is recorded, two relays never hold two deliveries of one route and key at once, and a
key's deliveries go one at a time in publish order; other keys, and unordered deliveries, are
not held back by them.
"""

from collections.abc import Collection, Iterable, Sequence

from django.db.models import Exists, OuterRef, Q, QuerySet

from modulith.database.store.models import Delivery, DeliveryStatus

# A route and an ordering key: one line of deliveries that go one at a time.
KeyLine = tuple[str, str]


class KeyOrder:
    """Which deliveries' turn it is. `skips_dead`: the routes whose later deliveries of a key go
    on past a dead one of it (their subscriber's choice); on every other route a dead letter
    holds its key until it is replayed or discarded. `keyed`: whether any event keeps an order
    at all; when none does, a claim asks nothing about keys (the look at a delivery's earlier
    ones cost an unordered relay 15% of its drain: `benchmarks/drain.py`)."""

    def __init__(self, skips_dead: Collection[str] = (), *, keyed: bool = True) -> None:
        self.skips_dead = frozenset(skips_dead)
        self.keyed = keyed
        in_the_way = Q(status=DeliveryStatus.PENDING)
        dead = Q(status=DeliveryStatus.DEAD)
        if self.skips_dead:
            dead &= ~Q(route__in=sorted(self.skips_dead))
        self._in_the_way = in_the_way | dead

    def earlier_in_the_way(self) -> QuerySet[Delivery]:
        """The earlier deliveries of the outer query's delivery's route and key that hold it
        back (a subquery: `OuterRef` names the outer delivery)."""
        return Delivery.objects.filter(
            self._in_the_way,
            route=OuterRef("route"),
            ordering_key=OuterRef("ordering_key"),
            id__lt=OuterRef("id"),
        )

    def holding_back(self) -> Q:
        """A filter of the deliveries that block their keys: first in their route and key's
        line (nothing earlier in their way), and in the way of a later pending one (pending
        or retried, claimed, or dead)."""
        later = Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            route=OuterRef("route"),
            ordering_key=OuterRef("ordering_key"),
            id__gt=OuterRef("id"),
        )
        return Q(
            self._in_the_way,
            Exists(later),
            ~Exists(self.earlier_in_the_way()),
            ordering_key__isnull=False,
        )

    def held_back_by(self, alias: str, delivery: Delivery) -> Delivery | None:
        """The first earlier delivery of the delivery's route and key in its way, if any."""
        if delivery.ordering_key is None or delivery.status != DeliveryStatus.PENDING:
            return None
        return (
            Delivery.objects.using(alias)
            .filter(
                self._in_the_way,
                route=delivery.route,
                ordering_key=delivery.ordering_key,
                id__lt=delivery.pk,
            )
            .order_by("id")
            .first()
        )

    def turn_has_come(self) -> Q:
        """A filter of deliveries nothing earlier holds back: every unordered one, and an
        ordered one once its key's earlier deliveries are delivered, cancelled or skipped. (An
        unordered delivery is settled by the first term: it costs no look at the others.)"""
        if not self.keyed:
            return Q()
        return Q(ordering_key__isnull=True) | Q(~Exists(self.earlier_in_the_way()))

    def held_back(self, alias: str, deliveries: Iterable[Delivery]) -> set[int]:
        """The ids of those of the ordered deliveries whose turn has not come: one statement."""
        return set(
            Delivery.objects.using(alias)
            .filter(Exists(self.earlier_in_the_way()), id__in=[d.pk for d in deliveries])
            .values_list("id", flat=True)
        )

    @staticmethod
    def on_lines(lines: Collection[KeyLine]) -> Q:
        """A filter of the deliveries of these routes and keys."""
        wanted = Q()
        for route, key in sorted(lines):
            wanted |= Q(route=route, ordering_key=key)
        return wanted

    @staticmethod
    def lines_of(deliveries: Sequence[Delivery]) -> set[KeyLine]:
        return {(d.route, d.ordering_key) for d in deliveries if d.ordering_key is not None}
