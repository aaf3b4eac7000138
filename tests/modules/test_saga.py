"""The reference saga, through the public API: orders, inventory and payments cooperate only
through contracts and events."""

from typing import Any
from uuid import UUID

import pytest
from django.test import Client

from contracts.inventory import ReservedLine, StockReleased, StockReservationFailed, StockReserved
from contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced
from contracts.payments import PaymentCaptured
from modulith.testing.scenario import Scenario, ScenarioFactory
from tests.shop import order, payments, place, product, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def shop(module_scenario: ScenarioFactory) -> Scenario:
    """Every module of the saga in this process: the monolith."""
    return module_scenario("orders", "inventory", "payments")


def test_a_paid_order_is_confirmed_and_its_stock_leaves_the_shelf(client: Client) -> None:
    stock(client, "KB-1", 5, price="89.00")
    stock(client, "MS-1", 3, price="29.50")

    response = place(client, ("KB-1", 2), ("MS-1", 1), token="tok_visa")

    assert response.status_code == 201
    placed = response.json()
    assert placed["status"] == "PENDING"
    assert placed["total"] == "207.50"
    assert placed["currency"] == "EUR"
    final = order(client, placed["orderId"])
    assert final["status"] == "CONFIRMED"
    assert final["cancellationReason"] is None
    assert product(client, "KB-1") | {"name": None} == {
        "sku": "KB-1",
        "name": None,
        "unitPrice": "89.00",
        "currency": "EUR",
        "onHand": 3,
        "reserved": 0,
        "available": 3,
    }
    assert product(client, "MS-1")["onHand"] == 2
    [payment] = payments(client, placed["orderId"])
    assert payment["status"] == "CAPTURED"
    assert payment["amount"] == "207.50"


def test_the_saga_publishes_its_events_in_order(shop: Scenario, client: Client) -> None:
    stock(client, "KB-1", 5)
    placed = place(client, ("KB-1", 1)).json()
    order_id = UUID(placed["orderId"])

    assert [event.event_name for event in shop.published()] == [
        "OrderPlaced",
        "PaymentDeadlinePassed",  # scheduled, and cancelled once the order was confirmed
        "StockReserved",
        "PaymentCaptured",
        "OrderConfirmed",
    ]
    [order_placed] = shop.published(OrderPlaced)
    assert order_placed.model_dump(mode="json", by_alias=True) == {
        "orderId": placed["orderId"],
        "customerId": "customer-1",
        "items": [{"sku": "KB-1", "quantity": 1, "unitPrice": "10.00"}],
        "total": "10.00",
        "currency": "EUR",
    }
    assert shop.published(StockReserved) == [
        StockReserved(order_id=order_id, items=[ReservedLine(sku="KB-1", quantity=1)])
    ]
    assert [p.order_id for p in shop.published(PaymentCaptured)] == [order_id]
    assert shop.published(OrderConfirmed) == [OrderConfirmed(order_id=order_id)]


def test_an_order_for_more_than_is_available_is_cancelled_out_of_stock(
    shop: Scenario, client: Client
) -> None:
    stock(client, "LAMP", 1)

    placed = place(client, ("LAMP", 2)).json()

    final = order(client, placed["orderId"])
    assert final["status"] == "CANCELLED"
    assert final["cancellationReason"] == "OUT_OF_STOCK"
    assert product(client, "LAMP") | {"name": None} == {
        "sku": "LAMP",
        "name": None,
        "unitPrice": "10.00",
        "currency": "EUR",
        "onHand": 1,
        "reserved": 0,
        "available": 1,
    }
    assert payments(client, placed["orderId"]) == []
    assert shop.published(OrderCancelled) == [
        OrderCancelled(order_id=placed["orderId"], reason="OUT_OF_STOCK")
    ]


def test_reservation_takes_every_line_or_none(shop: Scenario, client: Client) -> None:
    stock(client, "PLENTY", 10)
    stock(client, "SCARCE", 1)

    placed = place(client, ("PLENTY", 3), ("SCARCE", 2)).json()

    assert order(client, placed["orderId"])["cancellationReason"] == "OUT_OF_STOCK"
    assert product(client, "PLENTY")["available"] == 10
    assert product(client, "SCARCE")["available"] == 1
    [failure] = shop.published(StockReservationFailed)
    assert failure.missing_skus == ["SCARCE"]


def test_a_declined_payment_cancels_the_order_and_releases_the_stock(
    shop: Scenario, client: Client
) -> None:
    stock(client, "KB-1", 5)

    placed = place(client, ("KB-1", 2), token="tok_chargeDeclined").json()

    final = order(client, placed["orderId"])
    assert final["status"] == "CANCELLED"
    assert final["cancellationReason"] == "PAYMENT_DECLINED"
    [payment] = payments(client, placed["orderId"])
    assert payment["status"] == "DECLINED"
    assert product(client, "KB-1") | {"name": None} == {
        "sku": "KB-1",
        "name": None,
        "unitPrice": "10.00",
        "currency": "EUR",
        "onHand": 5,
        "reserved": 0,
        "available": 5,
    }
    assert shop.published(StockReleased) == [
        StockReleased(order_id=placed["orderId"], items=[ReservedLine(sku="KB-1", quantity=2)])
    ]


def test_released_stock_can_be_sold_again(client: Client) -> None:
    stock(client, "ONLY", 1)
    declined = place(client, ("ONLY", 1), token="tok_chargeDeclined").json()
    paid = place(client, ("ONLY", 1), customer="customer-2").json()

    assert order(client, declined["orderId"])["status"] == "CANCELLED"
    assert order(client, paid["orderId"])["status"] == "CONFIRMED"
    assert product(client, "ONLY")["onHand"] == 0


def test_orders_are_listed_by_customer_newest_first(client: Client) -> None:
    stock(client, "KB-1", 5)
    mine = [place(client, ("KB-1", 1), customer="alice").json()["orderId"] for _ in range(2)]
    place(client, ("KB-1", 1), customer="bob")

    listed = client.get("/api/orders", {"customerId": "alice"}).json()

    assert [o["orderId"] for o in listed["items"]] == mine[::-1]
    assert listed["next"] is None


def test_by_default_an_order_is_final_within_a_second(
    shop: Scenario, client: Client, settings: Any
) -> None:
    """The default delivers on a background thread after commit: the POST returns at once."""
    settings.MODULITH_ASYNC_HANDLERS = "thread"
    stock(client, "KB-1", 5)

    placed = place(client, ("KB-1", 1)).json()

    order_id = UUID(placed["orderId"])
    shop.wait_for(OrderConfirmed, matching=lambda e: e.order_id == order_id, timeout=1.0)
    shop.wait_until_idle(timeout=1.0)
    assert order(client, order_id)["status"] == "CONFIRMED"
    assert product(client, "KB-1")["onHand"] == 4
