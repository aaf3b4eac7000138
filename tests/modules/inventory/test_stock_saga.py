"""inventory's part of the saga, on its own: a placed order's stock is reserved, every line or
none; a confirmed order's stock leaves the shelf; a failed payment's, or a cancelled order's,
goes back on sale."""

from uuid import uuid4

import pytest
from django.test import Client

from contracts.inventory import ReservedLine, StockReleased, StockReservationFailed, StockReserved
from contracts.orders import OrderCancelled, OrderConfirmed
from modulith.testing.scenario import Scenario
from tests.events import order_placed, payment_failed
from tests.shop import product, stock

pytestmark = pytest.mark.django_db(transaction=True, databases=["inventory"])


def test_a_placed_order_reserves_its_stock(inventory: Scenario, client: Client) -> None:
    stock(client, "KB-1", 5)
    stock(client, "MS-1", 3)
    order = order_placed(("KB-1", 2), ("MS-1", 1))

    reserved = inventory.deliver(order).and_wait_for(StockReserved)

    assert reserved == StockReserved(
        order_id=order.order_id,
        items=[ReservedLine(sku="KB-1", quantity=2), ReservedLine(sku="MS-1", quantity=1)],
    )
    assert product(client, "KB-1") | {"name": None} == {
        "sku": "KB-1",
        "name": None,
        "unitPrice": "10.00",
        "currency": "EUR",
        "onHand": 5,
        "reserved": 2,
        "available": 3,
    }


def test_reservation_takes_every_line_or_none(inventory: Scenario, client: Client) -> None:
    stock(client, "PLENTY", 10)
    stock(client, "SCARCE", 1)
    order = order_placed(("PLENTY", 3), ("SCARCE", 2))

    failed = inventory.deliver(order).and_wait_for(StockReservationFailed)

    assert failed == StockReservationFailed(
        order_id=order.order_id, reason="OUT_OF_STOCK", missing_skus=["SCARCE"]
    )
    assert product(client, "PLENTY")["available"] == 10
    assert product(client, "SCARCE")["available"] == 1
    assert inventory.published(StockReserved) == []


def test_an_order_placed_twice_reserves_once(inventory: Scenario, client: Client) -> None:
    stock(client, "KB-1", 5)

    inventory.deliver(order_placed(("KB-1", 2))).again()

    assert product(client, "KB-1")["reserved"] == 2
    assert len(inventory.published(StockReserved)) == 1


def test_a_confirmed_orders_stock_leaves_the_shelf(inventory: Scenario, client: Client) -> None:
    stock(client, "KB-1", 5)
    order = order_placed(("KB-1", 2))
    inventory.deliver(order)

    inventory.deliver(OrderConfirmed(order_id=order.order_id))

    assert product(client, "KB-1")["onHand"] == 3
    assert product(client, "KB-1")["reserved"] == 0


def test_a_failed_payment_puts_the_stock_back_on_sale(inventory: Scenario, client: Client) -> None:
    stock(client, "KB-1", 5)
    order = order_placed(("KB-1", 2))
    inventory.deliver(order)

    released = inventory.deliver(payment_failed(order.order_id)).and_wait_for(StockReleased)

    assert released == StockReleased(
        order_id=order.order_id, items=[ReservedLine(sku="KB-1", quantity=2)]
    )
    assert product(client, "KB-1")["available"] == 5


def test_released_stock_can_be_reserved_again(inventory: Scenario, client: Client) -> None:
    stock(client, "ONLY", 1)
    first, second = order_placed(("ONLY", 1)), order_placed(("ONLY", 1))
    inventory.deliver(first)
    inventory.deliver(payment_failed(first.order_id))

    reserved = inventory.deliver(second).and_wait_for(StockReserved)

    assert reserved.order_id == second.order_id
    assert product(client, "ONLY")["available"] == 0


def test_a_failed_payment_of_an_order_without_a_reservation_releases_nothing(
    inventory: Scenario,
) -> None:
    inventory.deliver(payment_failed(uuid4()))

    assert inventory.published() == []


def test_an_order_cancelled_for_want_of_payment_puts_its_stock_back_on_sale(
    inventory: Scenario, client: Client
) -> None:
    stock(client, "KB-1", 5)
    order = order_placed(("KB-1", 2))
    inventory.deliver(order)
    timed_out = OrderCancelled(order_id=order.order_id, reason="PAYMENT_TIMEOUT")

    released = inventory.deliver(timed_out).and_wait_for(StockReleased)

    assert released == StockReleased(
        order_id=order.order_id, items=[ReservedLine(sku="KB-1", quantity=2)]
    )
    assert product(client, "KB-1")["available"] == 5
    inventory.deliver(timed_out).again()  # late, twice: released once
    assert inventory.published(StockReleased) == [released]


def test_a_cancelled_order_whose_stock_was_never_held_releases_nothing(
    inventory: Scenario,
) -> None:
    inventory.deliver(OrderCancelled(order_id=uuid4(), reason="OUT_OF_STOCK"))

    assert inventory.published() == []
