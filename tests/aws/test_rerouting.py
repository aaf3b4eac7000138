"""After MODULITH_TRANSPORT changes, deliveries the old transport's processes committed and did
not send are sent by the transport in use: their routes (a module, a bus, a topic) are the old
transport's, and each takes the routes the new one has for its event. Against the emulator;
the rows are left as a process of the old transport would leave them when it stops."""

from typing import Any
from uuid import UUID, uuid4

import pytest
from django.db.models.functions import Now
from django.test import Client
from django.utils import timezone

from modules.orders.models import Order, OrderStatus
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord
from tests.aws.emulator import AwsContext
from tests.aws.fault_proxy import FaultProxy
from tests.aws.test_relay_to_queues import deliveries, event_ids_on, use
from tests.conftest import sweep
from tests.outbox_rows import stored_events
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def payment_failed_for_orders_and_inventory() -> UUID:
    """A PaymentFailed left as sqs (or the in-process transport) routes it: one delivery for
    each subscriber, orders and inventory."""
    [event_id] = stored_events("payments", "PaymentFailed", "orders", _payment_failed())
    Delivery.objects.using("payments").create(
        event_id=event_id, route="inventory", next_attempt_at=Now()
    )
    return event_id


def _payment_failed() -> dict[str, Any]:
    return {"orderId": str(uuid4()), "paymentId": str(uuid4()), "reason": "PAYMENT_DECLINED"}


def test_a_delivery_the_in_process_transport_left_goes_on_the_bus_with_eventbridge(
    aws: AwsContext, settings: Any
) -> None:
    [event_id] = stored_events("orders", "OrderPlaced", "inventory")  # inprocess's route
    use(settings, "eventbridge")

    sweep()

    [delivery] = deliveries("orders")
    assert (delivery.route, delivery.status) == (aws.bus, DeliveryStatus.DELIVERED)
    assert event_ids_on(aws, "inventory", 1) == [str(event_id)]


def test_deliveries_for_each_subscriber_become_one_on_the_topic_with_sns(
    aws: AwsContext, settings: Any
) -> None:
    event_id = payment_failed_for_orders_and_inventory()
    use(settings, "sns")

    sweep()

    [delivery] = deliveries("payments")  # the topic stands for both subscribers
    assert (delivery.route, delivery.status) == (f"{aws.prefix}-payments", DeliveryStatus.DELIVERED)
    for module in ("orders", "inventory"):  # once each
        assert event_ids_on(aws, module, 1) == [str(event_id)]


def test_a_delivery_on_the_bus_becomes_one_per_subscriber_with_sqs(
    aws: AwsContext, settings: Any
) -> None:
    [event_id] = stored_events("payments", "PaymentFailed", aws.bus, _payment_failed())
    use(settings, "sqs")

    sweep()
    sweep()  # the second subscriber's delivery, made by the first sweep, is due now

    assert sorted((d.route, d.status) for d in deliveries("payments")) == [
        ("inventory", DeliveryStatus.DELIVERED),
        ("orders", DeliveryStatus.DELIVERED),
    ]
    for module in ("orders", "inventory"):
        assert event_ids_on(aws, module, 1) == [str(event_id)]


def test_a_sibling_delivered_before_the_change_is_not_sent_again_to_its_subscriber(
    aws: AwsContext, settings: Any
) -> None:
    """sqs had delivered PaymentFailed to orders but not to inventory: the bus stands for
    inventory's delivery now, and reaches orders too (its inbox absorbs that), but orders'
    delivered row is not sent again on its own."""
    event_id = payment_failed_for_orders_and_inventory()
    Delivery.objects.using("payments").filter(route="orders").update(
        status=DeliveryStatus.DELIVERED, delivered_at=timezone.now()
    )
    use(settings, "eventbridge")

    sweep()

    assert {(d.route, d.status) for d in deliveries("payments")} == {
        (aws.bus, DeliveryStatus.DELIVERED),
        ("orders", DeliveryStatus.DELIVERED),
    }
    assert event_ids_on(aws, "inventory", 1) == [str(event_id)]
    assert event_ids_on(aws, "orders", 1) == [str(event_id)]


def test_an_order_whose_event_waited_for_eventbridge_ends_in_process_after_the_flip_back(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any, client: Client
) -> None:
    """The bus was down when the order was placed: OrderPlaced waited in the outbox, routed to
    the bus. The monolith went back to the in-process transport meanwhile; its relay hands the
    event to inventory itself, and the saga ends."""
    use(settings, "eventbridge")
    stock(client, "FLIP-1", 3)
    fault_proxy.refuse_connections()
    response = place(client, ("FLIP-1", 1))
    assert response.status_code == 201, response.content
    # (The order's payment deadline waits too, due in ORDERS_PAYMENT_TIMEOUT: not this test's.)
    [waiting] = Delivery.objects.using("orders").filter(event__event_name="OrderPlaced")
    assert (waiting.route, waiting.status) == (aws.bus, DeliveryStatus.PENDING)
    settings.MODULITH_TRANSPORT = "inprocess"
    # Its probe is due.
    Delivery.objects.using("orders").filter(pk=waiting.pk).update(next_attempt_at=Now())

    sweep()

    order_id = response.json()["orderId"]
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
    [rerouted] = deliveries("orders", [waiting.event_id])
    assert (rerouted.route, rerouted.status) == ("inventory", DeliveryStatus.DELIVERED)
    assert InboxRecord.objects.using("inventory").filter(event_name="OrderPlaced").count() == 1
