"""payments' part of the saga, on its own: once inventory holds an order's stock, payments
charges what orders says the order costs, once, and says whether the charge was captured; a
capture orders refused (its order was cancelled meanwhile) is refunded, once."""

from uuid import UUID, uuid4

import pytest

from contracts.orders import OrderPaymentRefused
from contracts.payments import PaymentCaptured, PaymentFailed, PaymentRefunded
from modules.payments.models import Payment, PaymentStatus
from modulith.testing.delivery import DeliveryFailed
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


def refused(captured: PaymentCaptured) -> OrderPaymentRefused:
    """What orders says of a capture that came after the order was cancelled."""
    return OrderPaymentRefused(
        order_id=captured.order_id,
        payment_id=captured.payment_id,
        amount=captured.amount,
        currency=captured.currency,
        reason="ORDER_CANCELLED",
    )


def captured_payment(payments: Scenario, pending_orders: PendingOrders) -> PaymentCaptured:
    order_id = pending_orders.add(amount="207.50")
    return payments.deliver(stock_reserved(order_id)).and_wait_for(PaymentCaptured)


def test_a_capture_orders_refused_is_refunded_through_the_gateway(
    payments: Scenario, pending_orders: PendingOrders
) -> None:
    captured = captured_payment(payments, pending_orders)

    refunded = payments.deliver(refused(captured)).and_wait_for(PaymentRefunded)

    assert refunded == PaymentRefunded(
        order_id=captured.order_id,
        payment_id=captured.payment_id,
        amount=captured.amount,
        currency="EUR",
    )
    payment = Payment.objects.get(id=captured.payment_id)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_at is not None
    assert payment.refund_reference.startswith("re_")


def test_a_payment_refused_twice_is_refunded_once(
    payments: Scenario, pending_orders: PendingOrders
) -> None:
    captured = captured_payment(payments, pending_orders)

    payments.deliver(refused(captured)).again()
    payments.deliver(refused(captured))

    assert len(payments.published(PaymentRefunded)) == 1


def test_a_refusal_of_a_payment_payments_never_took_is_refused_for_good(
    payments: Scenario,
) -> None:
    """A capture from the till's billing system is refunded there, not here."""
    order_id, payment_id = uuid4(), uuid4()
    foreign = PaymentCaptured(order_id=order_id, payment_id=payment_id, amount=1, currency="EUR")

    with pytest.raises(DeliveryFailed) as failed:
        payments.deliver(refused(foreign))

    assert str(failed.value).endswith(
        f"payments holds no payment {payment_id} for order {order_id}: refund it where it was taken"
    )
    assert payments.published() == []


def test_a_refusal_that_does_not_match_the_payment_refunds_nothing(
    payments: Scenario, pending_orders: PendingOrders
) -> None:
    captured = captured_payment(payments, pending_orders)
    other_order: UUID = uuid4()

    with pytest.raises(DeliveryFailed, match="payments holds no payment"):
        payments.deliver(refused(captured.model_copy(update={"order_id": other_order})))
    with pytest.raises(DeliveryFailed, match="a refund of 1 EUR does not match it"):
        payments.deliver(refused(captured.model_copy(update={"amount": 1})))

    assert Payment.objects.get(id=captured.payment_id).status == PaymentStatus.CAPTURED
    assert payments.published(PaymentRefunded) == []
