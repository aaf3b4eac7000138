"""orders' part of the saga, on its own: a placed order is priced by inventory and published;
it is confirmed when its payment is captured for its total, in its currency, and cancelled,
with the reason, when its stock or its payment fails, or when its payment deadline passes
first; a capture of anything else confirms nothing; a capture for an order cancelled meanwhile
is refused, for payments to refund; a final order never changes again."""

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.test import Client

from contracts.inventory import StockReservationFailed
from contracts.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderedLine,
    OrderPaymentRefused,
    OrderPlaced,
    PaymentDeadlinePassed,
)
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from modulith.testing.delivery import DeliveryFailed
from modulith.testing.scenario import Scenario
from tests.events import payment_captured, payment_failed
from tests.providers import Catalogue
from tests.shop import order, place

pytestmark = pytest.mark.django_db(transaction=True, databases=["orders"])


TOTAL = "178.00"  # two keyboards at 89.00


@pytest.fixture
def placed(orders: Scenario, catalogue: Catalogue, client: Client) -> UUID:
    """A pending order of two keyboards, 178.00 EUR."""
    catalogue.add("KB-1", price="89.00")
    return UUID(place(client, ("KB-1", 2)).json()["orderId"])


def test_a_placed_order_is_priced_by_inventory_and_published(
    orders: Scenario, catalogue: Catalogue, client: Client
) -> None:
    catalogue.add("KB-1", price="89.00")
    catalogue.add("MS-1", price="29.50")

    response = place(client, ("KB-1", 2), ("MS-1", 1), customer="alice")

    assert response.status_code == 201
    assert response.json()["status"] == "PENDING"
    assert orders.published(OrderPlaced) == [
        OrderPlaced(
            order_id=response.json()["orderId"],
            customer_id="alice",
            items=[
                OrderedLine(sku="KB-1", quantity=2, unit_price=Decimal("89.00")),
                OrderedLine(sku="MS-1", quantity=1, unit_price=Decimal("29.50")),
            ],
            total=Decimal("207.50"),
            currency="EUR",
        )
    ]


def test_items_priced_in_two_currencies_are_refused(
    orders: Scenario, catalogue: Catalogue, client: Client
) -> None:
    catalogue.add("KB-1", currency="EUR")
    catalogue.add("KB-US", currency="USD")

    response = place(client, ("KB-1", 1), ("KB-US", 1))

    assert response.status_code == 422
    assert "items are priced in EUR and USD" in response.json()["message"]
    assert orders.published() == []


def test_a_captured_payment_confirms_the_order(
    orders: Scenario, placed: UUID, client: Client
) -> None:
    confirmed = orders.deliver(payment_captured(placed, TOTAL)).and_wait_for(OrderConfirmed)

    assert confirmed == OrderConfirmed(order_id=placed)
    assert order(client, placed)["status"] == "CONFIRMED"


@pytest.mark.parametrize(
    ("amount", "currency"), [("0.01", "EUR"), ("177.99", "EUR"), (TOTAL, "USD"), ("0.01", "XXX")]
)
def test_a_capture_of_another_amount_or_currency_is_refused_and_confirms_nothing(
    orders: Scenario, placed: UUID, client: Client, amount: str, currency: str
) -> None:
    with pytest.raises(DeliveryFailed) as refused:
        orders.deliver(payment_captured(placed, amount, currency))

    assert str(refused.value).endswith(
        f": order {placed} costs {TOTAL} EUR; a capture of {amount} {currency} does not pay for it"
    )
    assert order(client, placed)["status"] == "PENDING"
    assert orders.published(OrderConfirmed) == []


def test_a_capture_from_the_tills_billing_system_confirms_the_order_like_payments_own(
    orders: Scenario, placed: UUID, client: Client
) -> None:
    """orders' manifest accepts PaymentCaptured from billing.legacy."""
    delivered = orders.deliver(payment_captured(placed, TOTAL), source="billing.legacy")

    assert delivered.and_wait_for(OrderConfirmed) == OrderConfirmed(order_id=placed)


def test_a_capture_from_a_producer_orders_does_not_declare_confirms_nothing(
    orders: Scenario, placed: UUID, client: Client
) -> None:
    with pytest.raises(DeliveryFailed) as refused:
        orders.deliver(payment_captured(placed, TOTAL), source="attacker.example")

    assert "orders does not accept PaymentCaptured from source 'attacker.example'" in str(
        refused.value
    )
    assert order(client, placed)["status"] == "PENDING"


def test_a_failed_payment_cancels_the_order_as_declined(
    orders: Scenario, placed: UUID, client: Client
) -> None:
    cancelled = orders.deliver(payment_failed(placed)).and_wait_for(OrderCancelled)

    assert cancelled == OrderCancelled(order_id=placed, reason="PAYMENT_DECLINED")
    assert order(client, placed)["cancellationReason"] == "PAYMENT_DECLINED"


def test_a_failed_reservation_cancels_the_order_out_of_stock(
    orders: Scenario, placed: UUID, client: Client
) -> None:
    short = StockReservationFailed(order_id=placed, reason="OUT_OF_STOCK", missing_skus=["KB-1"])

    cancelled = orders.deliver(short).and_wait_for(OrderCancelled)

    assert cancelled == OrderCancelled(order_id=placed, reason="OUT_OF_STOCK")
    assert order(client, placed)["status"] == "CANCELLED"


def test_a_final_order_never_changes_again(orders: Scenario, placed: UUID, client: Client) -> None:
    orders.deliver(payment_captured(placed, TOTAL))

    orders.deliver(payment_failed(placed))
    orders.deliver(payment_captured(placed, TOTAL))

    assert order(client, placed)["status"] == "CONFIRMED"
    assert orders.published(OrderConfirmed) == [OrderConfirmed(order_id=placed)]
    assert orders.published(OrderCancelled) == []


def test_news_of_an_order_orders_does_not_have_yet_fails_to_be_retried(orders: Scenario) -> None:
    """Events may overtake each other: the relay retries, and the order may exist by then."""
    unknown = uuid4()

    with pytest.raises(DeliveryFailed, match=f"LookupError: order {unknown} does not exist"):
        orders.deliver(payment_captured(unknown))


# The payment deadline ---------------------------------------------------------------------


def deadline_of(order_id: UUID) -> OutboxEvent:
    return OutboxEvent.objects.using("orders").get(schedule_key=f"payment-deadline:{order_id}")


def deadline_status(order_id: UUID) -> set[str]:
    rows = Delivery.objects.using("orders").filter(event_id=deadline_of(order_id).id)
    return {row.status for row in rows}


def test_a_placed_order_schedules_its_payment_deadline_after_the_payment_timeout(
    orders: Scenario, catalogue: Catalogue, client: Client, settings: Any
) -> None:
    settings.ORDERS_PAYMENT_TIMEOUT = 90  # seconds, as the environment gives it
    catalogue.add("KB-1")

    order_id = UUID(place(client, ("KB-1", 1)).json()["orderId"])

    deadline = deadline_of(order_id)
    assert deadline.event_name == "PaymentDeadlinePassed"
    assert deadline.deliver_at is not None
    assert deadline.deliver_at - deadline.created_at == timedelta(seconds=90)
    assert deadline.wire["detail"]["data"] == {"orderId": str(order_id)}
    assert deadline_status(order_id) == {DeliveryStatus.PENDING}  # to orders itself, later


def test_a_deadline_that_passes_on_a_pending_order_cancels_it_for_payment_timeout(
    orders: Scenario, placed: UUID, client: Client
) -> None:
    cancelled = orders.deliver(PaymentDeadlinePassed(order_id=placed)).and_wait_for(OrderCancelled)

    assert cancelled == OrderCancelled(order_id=placed, reason="PAYMENT_TIMEOUT")
    assert order(client, placed)["cancellationReason"] == "PAYMENT_TIMEOUT"


@pytest.mark.parametrize("outcome", ["confirmed", "declined"])
def test_a_deadline_that_passes_on_a_final_order_changes_nothing(
    orders: Scenario, placed: UUID, client: Client, outcome: str
) -> None:
    """It may pass late, or twice: the order is what it was, and nothing is published."""
    final = payment_captured(placed, TOTAL) if outcome == "confirmed" else payment_failed(placed)
    orders.deliver(final)
    before = order(client, placed)

    orders.deliver(PaymentDeadlinePassed(order_id=placed)).again()
    orders.deliver(PaymentDeadlinePassed(order_id=placed))

    assert order(client, placed) == before
    assert len(orders.published(OrderCancelled)) == (outcome == "declined")


@pytest.mark.parametrize("outcome", ["confirmed", "declined"])
def test_an_order_that_becomes_final_cancels_its_payment_deadline(
    orders: Scenario, placed: UUID, outcome: str
) -> None:
    assert deadline_status(placed) == {DeliveryStatus.PENDING}

    orders.deliver(
        payment_captured(placed, TOTAL) if outcome == "confirmed" else payment_failed(placed)
    )

    assert deadline_status(placed) == {DeliveryStatus.CANCELLED}


def test_a_capture_after_the_order_was_cancelled_is_refused_for_a_refund(
    orders: Scenario, placed: UUID, client: Client
) -> None:
    orders.deliver(PaymentDeadlinePassed(order_id=placed))
    late = payment_captured(placed, TOTAL)

    refused = orders.deliver(late).and_wait_for(OrderPaymentRefused)

    assert refused == OrderPaymentRefused(
        order_id=placed,
        payment_id=late.payment_id,
        amount=Decimal(TOTAL),
        currency="EUR",
        reason="ORDER_CANCELLED",
    )
    assert order(client, placed)["status"] == "CANCELLED"
    assert order(client, placed)["cancellationReason"] == "PAYMENT_TIMEOUT"
    assert orders.published(OrderConfirmed) == []
