"""The saga's payment deadline in the split, for real: three services and their consumers, the
events over EventBridge and SQS, the deadline sent by orders' own relay when its time comes
(ORDERS_PAYMENT_TIMEOUT, a few seconds here). An order whose payment never comes (payments'
consumer is down) is cancelled at its deadline and its stock released, and is not charged when
payments comes back; an order paid in time never sees its deadline; a capture that reaches
orders after its deadline cancelled the order is refunded.

Each test starts its processes (see conftest.py) and stops them by PID."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import boto3
import pytest

from modules.orders.models import Order
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.testing import wait_until
from tests.e2e.conftest import Shop
from tests.e2e.shop_api import final, order, payments, placed, settled, stock

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

TIMEOUT_SECONDS = 6  # long enough for a payment that does come to come first
SPLIT = pytest.mark.parametrize("shop", ["eventbridge"], indirect=True)


@pytest.fixture
def split_overrides() -> dict[str, str]:
    return {"ORDERS_PAYMENT_TIMEOUT": str(TIMEOUT_SECONDS), "MODULITH_RELAY_INTERVAL": "0.5"}


def deadline(order_id: str) -> OutboxEvent:
    return OutboxEvent.objects.using("orders").get(schedule_key=f"payment-deadline:{order_id}")


def handled_deadlines() -> set[str]:
    """The ids of the deadlines orders has handled."""
    records = InboxRecord.objects.using("orders").filter(event_name="PaymentDeadlinePassed")
    return {str(event_id) for event_id in records.values_list("event_id", flat=True)}


@SPLIT
def test_in_the_split_an_unpaid_order_is_cancelled_at_its_deadline_and_a_paid_one_never_sees_it(
    shop: Shop,
) -> None:
    api = shop.api()
    stock(api, "KB-1", 5)
    paid = placed(api, ("KB-1", 1))
    assert final(api, paid)["status"] == "CONFIRMED"
    assert shop.consumers["payments"].stop() == 0  # payments can take no order now

    unpaid = placed(api, ("KB-1", 2))

    cancelled = final(api, unpaid)
    assert (cancelled["status"], cancelled["cancellationReason"]) == (
        "CANCELLED",
        "PAYMENT_TIMEOUT",
    )
    row = Order.objects.get(id=unpaid)
    assert row.updated_at - row.created_at >= timedelta(seconds=TIMEOUT_SECONDS)  # not before
    assert settled(api, "KB-1") == {"KB-1": (4, 0)}  # the paid one's unit left; these came back
    # The paid order's deadline, due before the unpaid one's, was cancelled: never delivered.
    paid_deadline = deadline(paid)
    assert {d.status for d in Delivery.objects.using("orders").filter(event=paid_deadline)} == {
        DeliveryStatus.CANCELLED
    }
    assert handled_deadlines() == {str(deadline(unpaid).id)}
    assert order(api, paid)["status"] == "CONFIRMED"

    shop.restart_consumer("payments")  # back: it takes the StockReserved it missed
    wait_until(
        lambda: InboxRecord.objects.using("payments").filter(event_name="StockReserved").count(),
        lambda count: count == 2,
        awaiting="payments to handle the reservation it missed",
        timeout=30,
    )
    assert payments(api, unpaid) == []  # nothing charged for a cancelled order
    api.close()


@SPLIT
def test_in_the_split_a_capture_that_comes_after_the_deadline_is_refunded(shop: Shop) -> None:
    api = shop.api()
    stock(api, "KB-1", 5, price="89.00")
    assert shop.consumers["orders"].stop() == 0  # orders hears nothing until it comes back

    order_id = placed(api, ("KB-1", 2))
    [captured] = wait_until(
        lambda: payments(api, order_id),
        lambda found: bool(found),
        awaiting=f"payments to charge for order {order_id}",
        timeout=TIMEOUT_SECONDS,
    )
    assert captured["status"] == "CAPTURED"
    with held_message(shop, "orders", "PaymentCaptured", order_id) as release:
        # The capture is held on its way to orders (as if the consumer that received it died),
        # while orders comes back and its deadline passes.
        shop.restart_consumer("orders")
        cancelled = final(api, order_id)
        assert cancelled["cancellationReason"] == "PAYMENT_TIMEOUT"
        assert settled(api, "KB-1") == {"KB-1": (5, 0)}
        release()

    [refunded] = wait_until(
        lambda: payments(api, order_id),
        lambda found: found[0]["status"] != "CAPTURED",
        awaiting=f"the late capture of order {order_id} to be refunded",
        timeout=30,
    )
    assert refunded["paymentId"] == captured["paymentId"]
    assert (refunded["status"], refunded["amount"]) == ("REFUNDED", "178.00")
    assert refunded["refundedAt"] is not None
    still = order(api, order_id)
    assert (still["status"], still["cancellationReason"]) == ("CANCELLED", "PAYMENT_TIMEOUT")
    assert settled(api, "KB-1") == {"KB-1": (5, 0)}
    assert not OutboxEvent.objects.using("orders").filter(event_name="OrderConfirmed").exists()
    api.close()


@contextmanager
def held_message(
    shop: Shop, module: str, event_name: str, order_id: str
) -> Iterator[Callable[[], None]]:
    """Receives the module's queue until the order's event of `event_name` arrives, and keeps it
    hidden (every other message goes back at once); the function it gives makes it visible
    again, for the module's consumer to receive (so does leaving the block)."""
    sqs: Any = boto3.client(
        "sqs",
        endpoint_url=shop.aws["AWS_ENDPOINT_URL"],
        region_name=shop.aws["AWS_DEFAULT_REGION"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    queue = sqs.get_queue_url(QueueName=f"{shop.aws['MODULITH_QUEUE_PREFIX']}-{module}")["QueueUrl"]

    def visible(receipt: str) -> None:
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=receipt, VisibilityTimeout=0)

    def receive_wanted() -> str:
        received = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=1
        )
        wanted = ""
        for message in received.get("Messages", []):
            body = json.loads(message["Body"])
            found = (body["detail-type"], body["detail"]["data"].get("orderId"))
            if found == (event_name, order_id) and not wanted:
                wanted = message["ReceiptHandle"]
            else:
                visible(message["ReceiptHandle"])
        return wanted

    receipt = [
        wait_until(receive_wanted, bool, awaiting=f"{event_name} of order {order_id}", timeout=30)
    ]

    def release() -> None:
        if receipt:
            visible(receipt.pop())

    try:
        yield release
    finally:
        release()
