"""What a test says of the relay's time instead of waiting for it: a claim has lapsed, a
delivery is due.

A claim and a due time are compared with the database's clock (`Now()`, see
`modulith.outbox.claims`), so a test that waits for one by the wall clock waits for as long as
the lease or the backoff lasts, and fails on a machine busy enough to be late. These helpers
move the recorded times instead, on the database's clock, so that the state is exactly the
one the wait would have reached: "a delivery whose process died is delivered once its claim
lapses" becomes `expire_claims(alias="orders")` and a sweep.

They act on this process: its module databases, and its relay's routes (a relay elsewhere, in
a consumer or a worker, keeps its own breakers).
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db.models import Expression
from django.db.models.functions import Now
from django.utils import timezone

from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.runtime import runtime

# How far in the past a lapsed claim ends: past any rounding of the database's clock.
LAPSED = timedelta(seconds=1)


def expire_claims(*, alias: str | None = None, deliveries: Sequence[Delivery] | None = None) -> int:
    """The claims held on pending deliveries lapse now, as they would once their lease
    (MODULITH_CLAIM_SECONDS) had passed: in `alias`'s database (every running module's when
    None), or, given `deliveries` (of `alias`), theirs only; those instances lapse too, as a
    relay still holding them would find them. The claim's holder stays recorded, as it does
    when a lease runs out. Returns how many claims lapsed."""
    lapsed = _bring_forward("expire_claims", "claimed_until", Now() - LAPSED, alias, deliveries)
    for delivery in deliveries or ():
        if delivery.claimed_until is not None:
            delivery.claimed_until = min(delivery.claimed_until, timezone.now() - LAPSED)
    return lapsed


def make_due(*, alias: str | None = None, deliveries: Iterable[Delivery] | None = None) -> int:
    """Pending deliveries waiting for a later attempt (a retry's backoff, their route's next
    probe, a time they were scheduled for) are due now, as if that time had come: in
    `alias`'s database (every running module's when None), or, given `deliveries` (of
    `alias`), those only. This process's relay probes its routes that are down at its next
    try, rather than after their backoff. Claims are left as they are (`expire_claims`).
    Returns how many deliveries became due."""
    due = _bring_forward("make_due", "next_attempt_at", Now(), alias, deliveries)
    runtime().relay.outages.probe_now()
    return due


def _bring_forward(
    name: str,
    field: str,
    to: Expression,
    alias: str | None,
    deliveries: Iterable[Delivery] | None,
) -> int:
    """Pending deliveries whose `field` is still in the future get `to` instead (in `alias`'s
    database, or every running module's; only `deliveries` if given). Returns how many."""
    if deliveries is not None and alias is None:
        raise ValueError(f"{name}(deliveries=...) needs the alias of their database")
    changed = 0
    for database in _databases(alias):
        rows = Delivery.objects.using(database).filter(
            status=DeliveryStatus.PENDING, **{f"{field}__gt": Now()}
        )
        if deliveries is not None:
            rows = rows.filter(pk__in=[delivery.pk for delivery in deliveries])
        changed += rows.update(**{field: to})
    return changed


def _databases(alias: str | None) -> list[str]:
    if alias is not None:
        return [alias]
    return [module.database for module in runtime().topology.running_modules]
