"""Older versions of an event, on the emulator's real queues, reach a subscriber that knows a
newer one: a version 1 or 2 `StockReservationFailed` (which called its SKUs `skus`) in the
queue, or in the dead-letter queue and replayed after the upgrade, is handled as version 3;
and during a rolling deploy the producer publishes the version the consumers not yet upgraded
read, then the current one, with nothing dead-lettered: a consumer of the release before reads
what is held back, where the current version would have been its dead letter."""

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
from modulith.runtime import install, runtime
from modulith.runtime.bootstrap import build_runtime
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import depth, pending_order, reason_of, receive, status_of, take_all

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


class StockReservationFailedOfTheReleaseBefore(Event):
    """What orders of the release before knows of the event: version 2, `skus`."""

    event_name: ClassVar[str] = "StockReservationFailed"
    schema_version: ClassVar[str] = "2.0"
    order_id: UUID
    reason: str
    skus: list[str]


READ_BY_THE_RELEASE_BEFORE: list[StockReservationFailedOfTheReleaseBefore] = []


def on_stock_reservation_failed_in_the_release_before(
    event: StockReservationFailedOfTheReleaseBefore,
) -> None:
    READ_BY_THE_RELEASE_BEFORE.append(event)


@contextmanager
def orders_of_the_release_before() -> Iterator[QueueConsumer]:
    """A consumer of orders' queue running the release before, whose contracts held version 2
    of the event (inventory's manifest published that class, orders' handled it)."""
    current = runtime()
    before = StockReservationFailedOfTheReleaseBefore
    inventory = current.topology.module("inventory")
    modules = {
        "inventory": dataclasses.replace(
            inventory,
            publishes=tuple(
                before if event_type is StockReservationFailed else event_type
                for event_type in inventory.publishes
            ),
        ),
        "orders": dataclasses.replace(
            current.topology.module("orders"),
            handles={before: f"{__name__}.on_stock_reservation_failed_in_the_release_before"},
        ),
    }
    topology = dataclasses.replace(
        current.topology, modules=tuple(modules.get(m.name, m) for m in current.topology.modules)
    )
    READ_BY_THE_RELEASE_BEFORE.clear()
    install(build_runtime(topology=topology))
    try:
        yield orders_consumer()
    finally:
        install(current)


def test_orders_of_the_release_before_reads_what_is_held_back_and_not_the_current_version(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    first, second = uuid4(), uuid4()

    settings.MODULITH_PUBLISH_VERSIONS = {"StockReservationFailed": 2}
    reservation_fails(first)
    with orders_of_the_release_before() as old_orders:
        assert receive(old_orders) == ConsumerReport(handled=1)
    assert [
        StockReservationFailedOfTheReleaseBefore(
            order_id=first, reason="OUT_OF_STOCK", skus=["KB-1"]
        )
    ] == READ_BY_THE_RELEASE_BEFORE
    assert depth("orders", dead=True) == 0

    # Released too soon: the current version is newer than the release before can read.
    settings.MODULITH_PUBLISH_VERSIONS = {}
    reservation_fails(second)
    with orders_of_the_release_before() as old_orders:
        assert receive(old_orders) == ConsumerReport(dead=1)
    assert READ_BY_THE_RELEASE_BEFORE == []
    [dead] = take_all("orders", dead=True)
    assert reason_of(dead) == (
        "StockReservationFailed schema version 3.0 is newer than the version 2.0 orders knows"
    )


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
