"""The saga's payment deadline, in the monolith: every module in this process, the relay's
sweep delivering what comes due. An order whose payment never comes is cancelled at its
deadline and its stock goes back on sale; a capture that comes after that is refunded and the
order stays cancelled; an order paid in time cancels its deadline, which then never fires.

`make_due` says the deadline's time has come instead of waiting ORDERS_PAYMENT_TIMEOUT (the
split's test in tests/e2e waits for it for real)."""

from uuid import UUID

import pytest
from django.test import Client

from contracts.orders import OrderCancelled, OrderPaymentRefused, PaymentDeadlinePassed
from contracts.payments import PaymentCaptured, PaymentRefunded
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.runtime import runtime
from modulith.testing import make_due
from tests.conftest import sweep
from tests.faults import database_down
from tests.shop import order, payments, place, product, published, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def deadline_deliveries(order_id: UUID | str) -> list[Delivery]:
    event = OutboxEvent.objects.using("orders").get(schedule_key=f"payment-deadline:{order_id}")
    return list(Delivery.objects.using("orders").filter(event_id=event.id))


def sweep_only(*aliases: str) -> int:
    """One sweep of these module databases' outboxes only; how many deliveries it made."""
    return runtime().relay.sweep(aliases).delivered


def test_an_order_whose_payment_never_comes_is_cancelled_at_its_deadline_and_its_stock_released(
    client: Client,
) -> None:
    stock(client, "KB-1", 5)

    with database_down("payments"):  # payments is down: it cannot charge, for as long as it is
        placed = place(client, ("KB-1", 2)).json()["orderId"]
        assert product(client, "KB-1")["reserved"] == 2
        sweep_only("orders", "inventory")
        assert order(client, placed)["status"] == "PENDING"  # not before its deadline

        assert make_due(alias="orders") == 1  # the deadline's time has come
        assert sweep_only("orders") >= 1

        cancelled = order(client, placed)
        assert (cancelled["status"], cancelled["cancellationReason"]) == (
            "CANCELLED",
            "PAYMENT_TIMEOUT",
        )
        assert published("orders", "OrderCancelled") == [
            {"orderId": placed, "reason": "PAYMENT_TIMEOUT"}
        ]
        released = product(client, "KB-1")
        assert (released["onHand"], released["reserved"]) == (5, 0)

    # payments comes back and takes the StockReserved it missed: the order is no longer
    # pending, so nothing is charged.
    make_due(alias="inventory")
    assert sweep().delivered >= 1
    assert InboxRecord.objects.using("payments").filter(event_name="StockReserved").count() == 1
    assert payments(client, placed) == []
    assert order(client, placed)["status"] == "CANCELLED"


def test_a_capture_that_comes_after_the_cancellation_is_refunded_and_the_order_stays_cancelled(
    client: Client, delivered_by_sweeps: None
) -> None:
    stock(client, "KB-1", 5, price="89.00")
    placed = place(client, ("KB-1", 2)).json()["orderId"]
    sweep_only("orders")  # OrderPlaced: inventory reserves
    sweep_only("inventory")  # StockReserved: payments charges, and the capture waits to go out
    [captured] = payments(client, placed)
    assert captured["status"] == "CAPTURED"
    assert order(client, placed)["status"] == "PENDING"

    make_due(alias="orders")
    sweep_only("orders")  # the deadline passes before the capture reaches orders
    assert order(client, placed)["cancellationReason"] == "PAYMENT_TIMEOUT"
    runtime().relay.drain(runtime().topology.running_databases)  # the rest, the late capture

    final = order(client, placed)
    assert (final["status"], final["cancellationReason"]) == ("CANCELLED", "PAYMENT_TIMEOUT")
    [refunded] = payments(client, placed)
    assert refunded["paymentId"] == captured["paymentId"]
    assert refunded["status"] == "REFUNDED"
    assert refunded["amount"] == "178.00"
    assert refunded["refundedAt"] is not None
    [refused] = published("orders", OrderPaymentRefused.event_name)
    assert refused["paymentId"] == captured["paymentId"]
    assert published("payments", PaymentRefunded.event_name) == [
        {
            "orderId": placed,
            "paymentId": captured["paymentId"],
            "amount": "178.00",
            "currency": "EUR",
        }
    ]
    assert product(client, "KB-1")["onHand"] == 5  # released, not taken off the shelf
    assert product(client, "KB-1")["reserved"] == 0
    assert published("orders", "OrderConfirmed") == []


def test_an_order_paid_in_time_cancels_its_deadline_which_never_fires(client: Client) -> None:
    stock(client, "KB-1", 5)

    placed = place(client, ("KB-1", 1)).json()["orderId"]

    assert order(client, placed)["status"] == "CONFIRMED"
    [deadline] = deadline_deliveries(placed)
    assert (deadline.route, deadline.status) == ("orders", DeliveryStatus.CANCELLED)
    assert deadline.cancelled_at is not None
    assert make_due(alias="orders") == 0  # nothing waits for its time any more
    assert sweep().handled == 0
    assert (
        not InboxRecord.objects.using("orders")
        .filter(event_name=PaymentDeadlinePassed.event_name)
        .exists()
    )
    assert order(client, placed)["status"] == "CONFIRMED"
    assert published("payments", PaymentCaptured.event_name) != []
    assert published("orders", OrderCancelled.event_name) == []
