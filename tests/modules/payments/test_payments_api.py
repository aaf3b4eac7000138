"""Payments over HTTP, payments on its own, and the documented test-card rule of the
simulated gateway."""

from decimal import Decimal
from uuid import uuid4

import pytest
from django.test import Client

from contracts.payments import PaymentCaptured
from modules.payments import gateway
from modulith.testing.scenario import Scenario
from tests import shop
from tests.events import stock_reserved
from tests.providers import PendingOrders

in_payments_alone = pytest.mark.django_db(transaction=True, databases=["payments"])


@in_payments_alone
def test_an_orders_payments_are_listed_by_order_id(
    payments: Scenario, pending_orders: PendingOrders, client: Client
) -> None:
    order_id = pending_orders.add(amount="25.00")
    payments.deliver(stock_reserved(order_id)).and_wait_for(PaymentCaptured)

    [payment] = shop.payments(client, order_id)

    assert payment["orderId"] == str(order_id)
    assert payment["amount"] == "25.00"
    assert payment["currency"] == "EUR"
    assert payment["status"] == "CAPTURED"


@in_payments_alone
@pytest.mark.usefixtures("payments")
def test_an_order_without_payments_has_an_empty_list(client: Client) -> None:
    assert shop.payments(client, uuid4()) == []


@in_payments_alone
@pytest.mark.usefixtures("payments")
@pytest.mark.parametrize("query", [{}, {"orderId": "nope"}])
def test_listing_payments_needs_a_valid_order_id(client: Client, query: dict[str, str]) -> None:
    response = client.get("/api/payments", query)

    assert response.status_code == 422
    assert "orderId" in response.json()["message"]


@pytest.mark.parametrize(
    ("token", "captured"),
    [
        ("tok_visa", True),
        ("tok_mastercard", True),
        ("tok_chargeDeclined", False),
        ("tok_chargeDeclinedInsufficientFunds", False),
    ],
)
def test_the_gateway_declines_exactly_the_declining_test_tokens(token: str, captured: bool) -> None:
    charge = gateway.charge(
        token=token, amount=Decimal("1.00"), currency="EUR", idempotency_key=uuid4()
    )

    assert charge.captured is captured


def test_the_gateway_gives_the_same_reference_for_the_same_idempotency_key() -> None:
    key = uuid4()
    first = gateway.charge(token="tok_visa", amount=Decimal(1), currency="EUR", idempotency_key=key)
    again = gateway.charge(token="tok_visa", amount=Decimal(1), currency="EUR", idempotency_key=key)

    assert first.reference == again.reference
