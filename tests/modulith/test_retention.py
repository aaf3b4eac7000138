"""The outbox for production life: retention deletes exactly what is delivered and past its
window; the relay drains a backlog larger than a sweep without waiting; several relays share
one backlog and deliver each event once."""

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from io import StringIO
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from modulith import cancel_scheduled, publish
from modulith.aws.models import HandlingFailure
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.outbox.relay import Relay
from modulith.outbox.retry import RetryPolicy
from modulith.runtime import runtime
from modulith.transports.envelope import Envelope
from modulith.transports.transport import DELIVERED, Outcome
from tests.conftest import sweep
from tests.events import payment_failed
from tests.outbox_rows import stored_events
from tests.processes import manage
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class AcceptingTransport:
    """Takes every event and remembers which, as a queue would; sends nothing anywhere."""

    name = "accepting"
    batch_size = 10
    max_batch_bytes = 2**20

    def __init__(self) -> None:
        self.accepted: list[UUID] = []
        self._lock = threading.Lock()

    def routes(self, event_name: str) -> list[str]:
        return ["queue"]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        with self._lock:
            self.accepted += [envelope.event_id for envelope in envelopes]
        return [DELIVERED] * len(envelopes)


def backlog(alias: str, count: int) -> list[UUID]:
    """`count` committed events, each with one pending delivery, as a crash would leave them."""
    return stored_events(alias, "OrderConfirmed", "queue", count=count)


def aged(alias: str, deliveries: Any, days: float) -> None:
    then = timezone.now() - timedelta(days=days)
    Delivery.objects.using(alias).filter(pk__in=deliveries).update(
        delivered_at=then, dead_at=then, cancelled_at=then
    )
    OutboxEvent.objects.using(alias).filter(deliveries__in=deliveries).update(created_at=then)


def test_retention_deletes_exactly_what_is_delivered_and_older_than_its_window(
    client: Client, settings: Any
) -> None:
    settings.MODULITH_OUTBOX_RETENTION = timedelta(days=7)
    stock(client, "RET-1", 10)
    old, recent = place(client, ("RET-1", 1)).json(), place(client, ("RET-1", 1)).json()
    orders = Delivery.objects.using("orders")
    old_ids = list(orders.filter(event__wire__detail__data__orderId=old["orderId"]).values("pk"))
    recent_ids = list(orders.filter(event__wire__detail__data__orderId=recent["orderId"]))
    aged("orders", [d["pk"] for d in old_ids], days=8)
    aged("orders", [d.pk for d in recent_ids], days=6)
    dead = orders.filter(pk=recent_ids[0].pk)
    dead.update(status=DeliveryStatus.DEAD)
    aged("orders", [recent_ids[0].pk], days=30)  # a dead letter, long past the window
    inbox = InboxRecord.objects.using("inventory")
    expired = inbox.filter(event_name="OrderPlaced").first()
    assert expired is not None
    inbox.filter(pk=expired.pk).update(handled_at=timezone.now() - timedelta(days=15))
    inbox_before = inbox.count()

    report = sweep()

    assert report.purged > 0
    assert not orders.filter(pk__in=[d["pk"] for d in old_ids]).exists()
    assert orders.filter(pk__in=[d.pk for d in recent_ids]).count() == len(recent_ids)
    assert orders.get(pk=recent_ids[0].pk).status == DeliveryStatus.DEAD
    old_events = OutboxEvent.objects.using("orders").filter(
        wire__detail__data__orderId=old["orderId"]
    )
    assert not old_events.exists()  # its deliveries gone, the event goes too
    assert not inbox.filter(pk=expired.pk).exists()
    assert inbox.count() == inbox_before - 1  # records inside the window stay


def test_a_pending_delivery_is_never_purged_however_old(settings: Any) -> None:
    settings.MODULITH_OUTBOX_RETENTION = timedelta(0)
    [event_id] = backlog("payments", 1)
    Delivery.objects.using("payments").filter(event_id=event_id).update(
        next_attempt_at=timezone.now() + timedelta(days=1)
    )
    OutboxEvent.objects.using("payments").filter(id=event_id).update(
        created_at=timezone.now() - timedelta(days=365)
    )

    call_command("outbox", "purge", stdout=StringIO())

    assert Delivery.objects.using("payments").filter(event_id=event_id).exists()
    assert OutboxEvent.objects.using("payments").filter(id=event_id).exists()


def test_a_cancelled_scheduled_event_is_kept_for_the_retention_from_its_cancel(
    settings: Any,
) -> None:
    settings.MODULITH_OUTBOX_RETENTION = timedelta(days=7)
    with transaction.atomic(using="payments"):
        old, recent = (
            publish(payment_failed(uuid4()), delay=timedelta(days=30), schedule_key=name)
            for name in ("old", "recent")
        )
        assert cancel_scheduled(key="old") + cancel_scheduled(key="recent") == 2
    cancelled = Delivery.objects.using("payments").filter(status=DeliveryStatus.CANCELLED)
    cancelled.filter(event_id=old).update(cancelled_at=timezone.now() - timedelta(days=8))
    cancelled.filter(event_id=recent).update(cancelled_at=timezone.now() - timedelta(days=6))

    report = sweep()

    assert report.purged == 3  # the old event and its two deliveries
    assert not OutboxEvent.objects.using("payments").filter(id=old).exists()
    assert cancelled.filter(event_id=recent).count() == 2


def test_with_no_retention_delivered_events_are_deleted_as_they_are_delivered(
    client: Client, settings: Any
) -> None:
    settings.MODULITH_OUTBOX_RETENTION = timedelta(0)
    stock(client, "RET-2", 3)

    placed = place(client, ("RET-2", 1)).json()

    assert placed["status"] == "PENDING"
    for alias in ("orders", "inventory", "payments"):
        # The order's payment deadline, cancelled once it was paid, was never delivered: it
        # waits for the sweep's purge.
        delivered = Delivery.objects.using(alias).exclude(status=DeliveryStatus.CANCELLED)
        assert not delivered.exists(), alias
        # Events nobody subscribes to (PaymentRefunded has no delivery here) stay until a purge.
        routed = OutboxEvent.objects.using(alias).exclude(event_name="PaymentDeadlinePassed")
        assert not routed.filter(deliveries__isnull=False).exists(), alias
    [deadline] = Delivery.objects.using("orders")
    assert (deadline.event.event_name, deadline.status) == (
        "PaymentDeadlinePassed",
        DeliveryStatus.CANCELLED,
    )


def test_the_consumers_handling_failures_are_purged_with_the_inbox_records() -> None:
    failures = HandlingFailure.objects.using("orders")
    for event_name, days in (("PaymentCaptured", 15), ("PaymentFailed", 13)):
        failure = failures.create(
            event_id=uuid4(), subscriber="orders", event_name=event_name, last_error="boom"
        )
        # auto_now sets the time on save(); an update sets it as time would have.
        failures.filter(pk=failure.pk).update(last_failed_at=timezone.now() - timedelta(days=days))
    out = StringIO()

    call_command("outbox", "purge", "--module", "orders", stdout=out)

    assert "1 handling failures" in out.getvalue()
    assert list(failures.values_list("event_name", flat=True)) == ["PaymentFailed"]


def test_a_redelivered_event_inside_the_inbox_window_has_no_second_effect(
    client: Client,
) -> None:
    stock(client, "RET-3", 5)
    place(client, ("RET-3", 2))
    order_placed = Envelope.from_wire(
        OutboxEvent.objects.using("orders").get(event_name="OrderPlaced").wire
    )

    out = StringIO()
    call_command("outbox", "purge", "--older-than", "0", stdout=out)  # the outbox forgets it
    handled_again = runtime().dispatcher.handle(
        order_placed, runtime().topology.module("inventory")
    )

    assert "purged" in out.getvalue()
    assert not OutboxEvent.objects.using("orders").filter(id=order_placed.event_id).exists()
    assert handled_again is False
    assert client.get("/api/inventory/products/RET-3").json()["onHand"] == 3


def test_a_sweep_with_nothing_past_its_retention_takes_no_lock_to_purge(client: Client) -> None:
    stock(client, "RET-9", 5)
    place(client, ("RET-9", 1))  # delivered just now: kept for the retention
    sweep()

    with CaptureQueriesContext(connections["orders"]) as queries:
        sweep()

    statements = [query["sql"] for query in queries.captured_queries]
    locking = [sql for sql in statements if "FOR UPDATE" in sql or sql == "BEGIN IMMEDIATE"]
    assert len(locking) == 1, statements  # the claim's: the purge only looked
    assert not [sql for sql in statements if sql.startswith("DELETE")]
    assert Delivery.objects.using("orders").filter(status=DeliveryStatus.DELIVERED).exists()


def test_an_inbox_retention_shorter_than_the_redelivery_window_is_refused_in_one_line() -> None:
    result = manage("check", MODULITH_INBOX_RETENTION="3d")

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "MODULITH_INBOX_RETENTION=3d is shorter than the redelivery window (14d" in lines[0]


def test_a_relay_drains_a_backlog_larger_than_one_sweep_without_waiting() -> None:
    transport = AcceptingTransport()
    relay = Relay(transport, RetryPolicy())
    event_ids = backlog("payments", 1200)

    first = Relay(AcceptingTransport(), RetryPolicy()).sweep(["payments"])
    report = relay.drain(["payments"])

    assert (first.delivered, first.more_due) == (500, True)  # one sweep stops at its limit
    assert report.delivered == 700
    assert not report.more_due
    assert len(transport.accepted) == 700
    assert not Delivery.objects.using("payments").filter(status=DeliveryStatus.PENDING).exists()
    assert Delivery.objects.using("payments").filter(event_id__in=event_ids).count() == 1200


def test_a_drain_goes_on_while_a_handler_publishes_into_an_outbox_swept_before_its_own(
    client: Client, delivered_by_sweeps: None
) -> None:
    """Each hop of the saga is published by the previous hop's handler, here, in the pass that
    delivered it: the confirmation lands in orders' outbox after orders' turn of that pass."""
    stock(client, "DRAIN-1", 5)
    placed = place(client, ("DRAIN-1", 2)).json()["orderId"]
    databases = runtime().topology.running_databases

    report = runtime().relay.drain(databases)

    assert client.get(f"/api/orders/{placed}").json()["status"] == "CONFIRMED"
    due = {
        alias: Delivery.objects.using(alias)
        .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .count()
        for alias in databases
    }
    assert due == dict.fromkeys(databases, 0)
    # Its four hops: placed, reserved, captured, confirmed.
    assert (report.delivered, report.more_due) == (4, False)


def test_two_relays_over_one_backlog_deliver_each_event_once() -> None:
    transports = [AcceptingTransport(), AcceptingTransport()]
    event_ids = backlog("payments", 2000)
    start = threading.Barrier(2)

    def relay(transport: AcceptingTransport) -> None:
        start.wait()
        try:
            Relay(transport, RetryPolicy()).drain(["payments"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=relay, args=(t,)) for t in transports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    sent = Counter(transports[0].accepted + transports[1].accepted)
    assert sorted(sent) == sorted(event_ids)
    assert set(sent.values()) == {1}  # no event twice
    assert not Delivery.objects.using("payments").filter(status=DeliveryStatus.PENDING).exists()
    if connections["payments"].vendor == "postgresql":  # SKIP LOCKED: they share the work
        assert min(len(t.accepted) for t in transports) > 200
