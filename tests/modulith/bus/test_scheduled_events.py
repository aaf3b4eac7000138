"""Scheduled events: published in the publisher's transaction, delivered by the relay once due
and not before, cancellable by key or id until a relay claims them (a cancel racing a claim
settles one way, never both and never neither), and kept in the outbox, not in any process,
so a relay killed and restarted delivers them all the same.

The scheduled event is the saga's payment deadline: payments says an order's payment failed,
to be delivered later unless cancelled; once delivered, orders cancels the pending order."""

import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from django.db import connections, transaction
from django.utils import timezone

from modules.orders.models import Order, OrderStatus
from modulith import cancel_scheduled, publish
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.runtime import runtime
from modulith.testing import expire_claims, make_due, wait_until
from tests.conftest import sweep
from tests.events import payment_failed
from tests.modulith.test_delivery import pending_order
from tests.processes import BackgroundProcess

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

HOUR = timedelta(hours=1)
SUBSCRIBERS = {"orders", "inventory"}  # of PaymentFailed
RELAY_INTERVAL = 0.5  # seconds, of the relay processes below


def key(order_id: UUID) -> str:
    return f"payment-deadline:{order_id}"


def deadline(order_id: UUID, delay: timedelta = HOUR) -> UUID:
    """The order's payment deadline: PaymentFailed, due once `delay` has passed."""
    with transaction.atomic(using="payments"):
        return publish(payment_failed(order_id), delay=delay, schedule_key=key(order_id))


def cancel(**which: object) -> int:
    with transaction.atomic(using="payments"):
        return cancel_scheduled(**which)  # type: ignore[arg-type]


def deliveries(event_id: UUID) -> list[Delivery]:
    return list(Delivery.objects.using("payments").filter(event_id=event_id).order_by("route"))


def statuses(event_id: UUID) -> set[str]:
    return {delivery.status for delivery in deliveries(event_id)}


def order_status(order_id: UUID) -> str:
    return str(Order.objects.get(id=order_id).status)


def handled_by(event_id: UUID) -> set[str]:
    """The subscribers whose inbox holds the event."""
    return {
        alias
        for alias in SUBSCRIBERS
        if InboxRecord.objects.using(alias).filter(event_id=event_id).exists()
    }


def rolled_back(work: Callable[[], object]) -> object:
    """What `work` returned, in a transaction of payments that then rolled back."""
    with transaction.atomic(using="payments"):
        done = work()
        transaction.set_rollback(True, using="payments")
    return done


# Due, and not before ------------------------------------------------------------------------


def test_a_scheduled_event_waits_unclaimed_for_its_time_then_is_delivered_like_any_other() -> None:
    order_id = uuid4()
    pending_order(order_id)

    event_id = deadline(order_id)

    event = OutboxEvent.objects.using("payments").get(id=event_id)
    assert event.deliver_at is not None
    assert event.deliver_at - event.created_at == HOUR
    assert event.schedule_key == key(order_id)
    assert [(d.route, d.status, d.claimed_by, d.cancellable) for d in deliveries(event_id)] == [
        ("inventory", DeliveryStatus.PENDING, "", True),
        ("orders", DeliveryStatus.PENDING, "", True),
    ]
    assert {d.next_attempt_at for d in deliveries(event_id)} == {event.deliver_at}
    assert sweep().handled == 0  # not due: no relay takes it
    assert order_status(order_id) == OrderStatus.PENDING

    assert make_due(alias="payments") == 2  # its time has come
    report = sweep()

    assert report.delivered == 2
    assert statuses(event_id) == {DeliveryStatus.DELIVERED}
    assert handled_by(event_id) == SUBSCRIBERS
    assert order_status(order_id) == OrderStatus.CANCELLED


def test_a_scheduled_event_rolls_back_with_the_transaction_that_published_it() -> None:
    rolled_back(lambda: publish(payment_failed(uuid4()), delay=HOUR, schedule_key="gone"))

    assert not OutboxEvent.objects.using("payments").exists()
    assert not Delivery.objects.using("payments").exists()


def test_a_time_already_past_is_due_at_the_next_sweep() -> None:
    order_id = uuid4()
    pending_order(order_id)
    with transaction.atomic(using="payments"):
        event_id = publish(
            payment_failed(order_id), deliver_at=timezone.now() - timedelta(minutes=5)
        )
    assert statuses(event_id) == {DeliveryStatus.PENDING}  # not delivered at publish

    sweep()

    assert statuses(event_id) == {DeliveryStatus.DELIVERED}
    assert order_status(order_id) == OrderStatus.CANCELLED


# Cancelled, until claimed ------------------------------------------------------------------


@pytest.mark.parametrize("by", ["key", "event_id"])
def test_a_cancelled_scheduled_event_is_never_delivered(by: str) -> None:
    order_id = uuid4()
    pending_order(order_id)
    event_id = deadline(order_id)
    which = {"key": key(order_id)} if by == "key" else {"event_id": event_id}

    assert cancel(**which) == 1
    assert cancel(**which) == 0  # cancelled once

    make_due(alias="payments")
    assert sweep().handled == 0
    assert statuses(event_id) == {DeliveryStatus.CANCELLED}
    assert all(d.cancelled_at is not None and not d.cancellable for d in deliveries(event_id))
    assert handled_by(event_id) == set()
    assert order_status(order_id) == OrderStatus.PENDING


def test_a_cancel_by_key_cancels_every_event_waiting_with_that_key_and_no_other() -> None:
    order_id, other = uuid4(), uuid4()
    first, second = deadline(order_id), deadline(order_id, delay=2 * HOUR)
    kept = deadline(other)

    assert cancel(key=key(order_id)) == 2

    assert statuses(first) == statuses(second) == {DeliveryStatus.CANCELLED}
    assert statuses(kept) == {DeliveryStatus.PENDING}
    assert cancel(key="payment-deadline:nobody") == 0


def test_a_cancel_rolled_back_with_its_transaction_cancels_nothing() -> None:
    order_id = uuid4()
    pending_order(order_id)
    event_id = deadline(order_id)

    assert rolled_back(lambda: cancel_scheduled(key=key(order_id))) == 1

    make_due(alias="payments")
    sweep()
    assert statuses(event_id) == {DeliveryStatus.DELIVERED}
    assert order_status(order_id) == OrderStatus.CANCELLED


def test_once_a_relay_claims_any_delivery_of_it_the_event_is_no_longer_cancellable() -> None:
    order_id = uuid4()
    pending_order(order_id)
    event_id = deadline(order_id)
    make_due(alias="payments")
    # A relay claims one of its two deliveries, and dies holding it: it may have sent it.
    [claimed] = runtime().relay.claims.take("payments", batch=1)

    assert cancel(key=key(order_id)) == 0  # the event goes out whole, or not at all

    assert sweep().delivered == 1  # the other delivery
    expire_claims(alias="payments")  # the dead relay's claim lapses
    sweep()
    assert statuses(event_id) == {DeliveryStatus.DELIVERED}
    assert handled_by(event_id) == SUBSCRIBERS
    assert claimed.event_id == event_id


def test_a_cancel_racing_the_relay_either_cancels_an_event_or_lets_it_be_delivered() -> None:
    """Never both, never neither, and never part of an event: the relay takes one delivery at
    a time while the publisher cancels the deadlines one by one, on two threads."""
    orders = [uuid4() for _ in range(12)]
    for order_id in orders:
        pending_order(order_id)
    events = {order_id: deadline(order_id) for order_id in orders}
    make_due(alias="payments")
    cancelled: dict[UUID, int] = {}
    start = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def relay() -> None:
        try:
            start.wait()
            for _ in range(4 * len(orders)):  # one delivery a sweep: two an event at most
                if not runtime().relay.sweep(["payments"], limit=1).handled:
                    break
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    def publisher() -> None:
        try:
            start.wait()
            for order_id in orders:
                cancelled[order_id] = cancel(key=key(order_id))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=relay), threading.Thread(target=publisher)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    expire_claims(alias="payments")
    sweep()  # whatever the relay thread left due

    for order_id, event_id in events.items():
        if cancelled[order_id]:
            assert statuses(event_id) == {DeliveryStatus.CANCELLED}, order_id
            assert handled_by(event_id) == set(), order_id
            assert order_status(order_id) == OrderStatus.PENDING
        else:
            assert statuses(event_id) == {DeliveryStatus.DELIVERED}, order_id
            assert handled_by(event_id) == SUBSCRIBERS, order_id
            assert order_status(order_id) == OrderStatus.CANCELLED
    assert set(cancelled.values()) <= {0, 1}


# What a publisher is told --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "error"),
    [
        ({"delay": HOUR, "deliver_at": timezone.now()}, "deliver_at= or delay=, not both"),
        ({"deliver_at": timezone.now().replace(tzinfo=None)}, "must be an aware datetime"),
        ({"delay": timedelta(seconds=-1)}, "delay must be a timedelta of zero or more"),
        ({"delay": 60}, "delay must be a timedelta"),
        ({"schedule_key": "k"}, "pass deliver_at= or delay= too"),
        ({"delay": HOUR, "schedule_key": "k" * 201}, "schedule_key must be a string of 1 to 200"),
    ],
)
def test_a_publish_that_names_no_moment_is_refused_with_what_to_pass(
    when: dict[str, object], error: str
) -> None:
    with (
        pytest.raises(ValueError, match=error),
        transaction.atomic(using="payments"),
    ):
        publish(payment_failed(uuid4()), **when)  # type: ignore[arg-type]
    assert not OutboxEvent.objects.using("payments").exists()


def test_a_cancel_outside_the_publishers_transaction_is_refused() -> None:
    deadline(uuid4())

    with pytest.raises(RuntimeError, match=r"inside transaction.atomic\(using="):
        cancel_scheduled(key="anything")
    with pytest.raises(TypeError, match="key= or event_id=, one of them"):
        cancel()
    with pytest.raises(ValueError, match="event_id must be an event's id"):
        cancel(event_id="not-an-id")


# Kept in the outbox, not in a process ---------------------------------------------------------


class RelayProcess(BackgroundProcess):
    """`manage.py relay --interval RELAY_INTERVAL`, on the test's databases."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(
            log_dir / f"relay-{time.monotonic_ns()}.log",
            [sys.executable, "manage.py", "relay", "--interval", str(RELAY_INTERVAL)],
            {"PYTHONUNBUFFERED": "1"},
        )

    def __enter__(self) -> "RelayProcess":
        self.launch(lambda: "relaying" in self.output(), what="the relay")
        return self


def delivered_by(relay: RelayProcess, event_id: UUID) -> None:
    wait_until(
        lambda: statuses(event_id),
        lambda seen: seen == {DeliveryStatus.DELIVERED},
        awaiting=f"the relay to deliver {event_id}",
        timeout=15,
        details=relay.output,
    )


@pytest.mark.slow
def test_a_scheduled_event_is_delivered_by_the_relay_started_after_the_last_one_was_killed(
    tmp_path: Path,
) -> None:
    order_id = uuid4()
    pending_order(order_id)
    with RelayProcess(tmp_path) as first:
        event_id = deadline(order_id, delay=timedelta(seconds=3))
        first.kill()  # SIGKILL, before the event is due
    due = OutboxEvent.objects.using("payments").get(id=event_id).deliver_at
    assert due is not None
    assert statuses(event_id) == {DeliveryStatus.PENDING}

    with RelayProcess(tmp_path) as second:
        delivered_by(second, event_id)

    assert order_status(order_id) == OrderStatus.CANCELLED
    [record] = InboxRecord.objects.using("orders").filter(event_id=event_id)
    assert record.handled_at >= due  # not before its time


@pytest.mark.slow
def test_a_scheduled_event_is_handled_within_the_relay_interval_and_a_second_of_its_time(
    tmp_path: Path,
) -> None:
    order_id = uuid4()
    pending_order(order_id)
    with RelayProcess(tmp_path) as relay:
        event_id = deadline(order_id, delay=timedelta(seconds=2))
        delivered_by(relay, event_id)

    due = OutboxEvent.objects.using("payments").get(id=event_id).deliver_at
    handled = InboxRecord.objects.using("orders").get(event_id=event_id).handled_at
    assert due is not None
    lateness = (handled - due).total_seconds()
    assert 0 <= lateness <= RELAY_INTERVAL + 1, lateness
