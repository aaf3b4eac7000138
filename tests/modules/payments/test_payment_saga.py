"""payments' part of the saga, on its own: once inventory holds an order's stock, payments
charges what orders says the order costs, once, and says whether the charge was captured."""

import pytest

from contracts.payments import PaymentCaptured, PaymentFailed
from modules.payments.models import Payment, PaymentStatus
from modulith.testing.scenario import Scenario
from tests.events import stock_reserved
from tests.providers import PendingOrders

pytestmark = pytest.mark.django_db(transaction=True, databases=["payments"])


def test_a_reserved_order_is_charged_and_its_payment_captured(
    payments: Scenario, pending_orders: PendingOrders
) -> None:
    order_id = pending_orders.add(amount="207.50", customer="alice")

    captured = payments.deliver(stock_reserved(order_id)).and_wait_for(PaymentCaptured)

    payment = Payment.objects.get(order_id=order_id)
    assert captured == PaymentCaptured(
        order_id=order_id, payment_id=payment.id, amount=payment.amount, currency="EUR"
    )
    assert (payment.customer_id, str(payment.amount)) == ("alice", "207.50")
    assert payment.status == PaymentStatus.CAPTURED


def test_a_declining_card_fails_the_payment(
    payments: Scenario, pending_orders: PendingOrders
) -> None:
    order_id = pending_orders.add(token="tok_chargeDeclinedInsufficientFunds")

    failed = payments.deliver(stock_reserved(order_id)).and_wait_for(PaymentFailed)

    payment = Payment.objects.get(order_id=order_id)
    assert failed == PaymentFailed(
        order_id=order_id, payment_id=payment.id, reason="PAYMENT_DECLINED"
    )
    assert (payment.status, payment.decline_reason) == (PaymentStatus.DECLINED, "card_declined")
    assert payments.published(PaymentCaptured) == []


def test_an_order_reserved_twice_is_charged_once(
    payments: Scenario, pending_orders: PendingOrders
) -> None:
    order_id = pending_orders.add()

    payments.deliver(stock_reserved(order_id)).again()

    assert Payment.objects.filter(order_id=order_id).count() == 1
    assert len(payments.published(PaymentCaptured)) == 1


def test_an_order_that_is_no_longer_pending_is_not_charged(payments: Scenario) -> None:
    payments.deliver(stock_reserved(PendingOrders().add()))  # orders knows no such order

    assert not Payment.objects.exists()
    assert payments.published() == []
