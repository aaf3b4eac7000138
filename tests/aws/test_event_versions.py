"""Older versions of an event, on the emulator's real queues, reach a subscriber that knows a
newer one: a version 1 or 2 `StockReservationFailed` (which called its SKUs `skus`) in the
queue, or in the dead-letter queue and replayed after the upgrade, is handled as version 3;
and during a rolling deploy the producer publishes the version the consumers not yet upgraded
read, then the current one, with nothing dead-lettered."""

from collections.abc import Mapping
from datetime import UTC, datetime
from io import StringIO
from typing import Any, ClassVar
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import transaction

from contracts.inventory import StockReservationFailed
from modules.orders.models import OrderStatus
from modulith import Module
from modulith.aws.consumer import QueueConsumer, queue_consumer
from modulith.aws.context import aws_context
from modulith.aws.messages import DEAD_LETTER_REASON, DEAD_LETTER_SOURCE, string_attribute
from modulith.aws.names import ResourceNames
from modulith.aws.processor import ConsumerReport
from modulith.aws.resources import aws_topology
from modulith.bus import Envelope, publish
from modulith.contracts import Converter, Event, unchanged
from modulith.database.store.models import OutboxEvent
from modulith.modules import Topology
from modulith.runtime import runtime
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import depth, pending_order, receive, status_of

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def use_queues(settings: Any) -> None:
    settings.MODULITH_TRANSPORT = "sqs"
    call_command("provision", stdout=StringIO())


def orders_consumer() -> QueueConsumer:
    current = runtime()
    return queue_consumer(current, current.topology.module("orders"), wait_seconds=1)


def old_stock_reservation_failed(order_id: UUID, version: str) -> str:
    """The body an inventory of an older release sent: its SKUs under `skus`."""
    return Envelope(
        event_id=uuid4(),
        event_name="StockReservationFailed",
        source="inventory.service",
        occurred_at=datetime.now(UTC),
        schema_version=version,
        data={"orderId": str(order_id), "reason": "OUT_OF_STOCK", "skus": ["KB-1"]},
    ).to_json()


def test_version_1_and_2_events_waiting_in_the_queue_are_handled_as_version_3(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    context = aws_context(runtime())
    orders = [uuid4(), uuid4()]
    for order_id, version in zip(orders, ("1.0", "2.0"), strict=True):
        pending_order(order_id)
        context.sqs.send_message(
            QueueUrl=context.queues.url("orders"),
            MessageBody=old_stock_reservation_failed(order_id, version),
        )

    assert receive(orders_consumer(), messages=2) == ConsumerReport(handled=2)
    assert [status_of(order_id) for order_id in orders] == [OrderStatus.CANCELLED] * 2
    assert depth("orders", dead=True) == 0


def test_a_version_2_dead_letter_replayed_after_the_upgrade_is_handled_as_version_3(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    context = aws_context(runtime())
    order_id = uuid4()
    # Dead-lettered by the release before: its order did not exist yet.
    context.sqs.send_message(
        QueueUrl=context.queues.dead_letter_url("orders"),
        MessageBody=old_stock_reservation_failed(order_id, "2.0"),
        MessageAttributes={
            DEAD_LETTER_REASON: string_attribute(f"LookupError: order {order_id} does not exist"),
            DEAD_LETTER_SOURCE: string_attribute(context.queues.names.queue("orders")),
        },
    )
    pending_order(order_id)

    out = StringIO()
    call_command("deadletters", "replay", "--module", "orders", "--all", stdout=out)

    assert out.getvalue().strip() == "orders: 1 dead message(s) back on the queue"
    assert receive(orders_consumer()) == ConsumerReport(handled=1)
    assert status_of(order_id) == OrderStatus.CANCELLED
    assert depth("orders", dead=True) == 0


def reservation_fails(order_id: UUID) -> dict[str, Any]:
    """inventory refuses the order's stock; what went on the wire for it."""
    with transaction.atomic(using="inventory"):
        event_id = publish(
            StockReservationFailed(order_id=order_id, reason="OUT_OF_STOCK", missing_skus=["KB-1"])
        )
    wire: dict[str, Any] = OutboxEvent.objects.using("inventory").get(id=event_id).wire
    return wire


def test_during_a_rolling_deploy_the_producer_publishes_what_every_consumer_reads(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    first, second = uuid4(), uuid4()
    pending_order(first)
    pending_order(second)

    # Some orders consumers still run the release that knows version 2: inventory holds back.
    settings.MODULITH_PUBLISH_VERSIONS = {"StockReservationFailed": 2}
    held_back = reservation_fails(first)

    assert held_back["detail-type"] == "StockReservationFailed"
    assert held_back["detail"]["metadata"]["schemaVersion"] == "2.0"
    assert held_back["detail"]["data"] == {
        "orderId": str(first),
        "reason": "OUT_OF_STOCK",
        "skus": ["KB-1"],
    }
    assert receive(orders_consumer()) == ConsumerReport(handled=1)
    assert status_of(first) == OrderStatus.CANCELLED

    # Every consumer upgraded: inventory publishes the current version.
    settings.MODULITH_PUBLISH_VERSIONS = {}
    current = reservation_fails(second)

    assert current["detail"]["metadata"]["schemaVersion"] == "3.0"
    assert current["detail"]["data"]["missingSkus"] == ["KB-1"]
    assert receive(orders_consumer()) == ConsumerReport(handled=1)
    assert status_of(second) == OrderStatus.CANCELLED
    assert depth("orders", dead=True) == 0
    assert depth("orders") == 0


class ParcelDispatched(Event):
    schema_version: ClassVar[str] = "2.0"
    upcasters: ClassVar[Mapping[int, Converter]] = {1: unchanged}
    former_names: ClassVar[Mapping[str, int]] = {"ParcelSent": 1}


def test_a_subscribers_rule_and_topic_subscription_take_an_events_former_name_too() -> None:
    warehouse = Module(name="warehouse", app="warehouse", publishes=(ParcelDispatched,))
    shipping = Module(name="shipping", app="shipping", handles={ParcelDispatched: "h.on"})
    topology = Topology(modules=(warehouse, shipping), running=frozenset())

    resources = aws_topology(
        topology,
        ResourceNames(prefix="shop", bus="shop"),
        max_receives=5,
        visibility_timeout=30,
        fan_out=True,
    )

    [rule] = resources.rules
    assert rule.event_pattern() == {
        "source": ["warehouse.service"],
        "detail-type": ["ParcelDispatched", "ParcelSent"],
    }
    [subscription] = resources.subscriptions
    assert subscription.filter_policy() == {"eventType": ["ParcelDispatched", "ParcelSent"]}
