"""Payments' writes. Each service owns its transaction and publishes inside it."""

from decimal import Decimal
from uuid import UUID

from django.utils import timezone

from contracts.orders import OrderQueries
from contracts.payments import PaymentCaptured, PaymentFailed, PaymentRefunded
from modules.payments import gateway
from modules.payments.models import Payment, PaymentStatus
from modulith.bus import PermanentFailure, atomic, publish
from modulith.ports import query_port

DATABASE = "payments"


def payment_charge(*, order_id: UUID) -> Payment | None:
    """Charges for a pending order once; publishes PaymentCaptured or PaymentFailed."""
    if existing := Payment.objects.filter(order_id=order_id).first():
        return existing
    request = query_port(OrderQueries).payment_request(order_id)
    if request is None:
        return None  # the order is no longer pending: nothing to charge
    result = gateway.charge(
        token=request.payment_token,
        amount=request.amount,
        currency=request.currency,
        idempotency_key=order_id,
    )
    with atomic(using=DATABASE):
        payment = Payment.objects.create(
            order_id=order_id,
            customer_id=request.customer_id,
            amount=request.amount,
            currency=request.currency,
            status=PaymentStatus.CAPTURED if result.captured else PaymentStatus.DECLINED,
            decline_reason=result.decline_reason,
            gateway_reference=result.reference,
        )
        if result.captured:
            publish(
                PaymentCaptured(
                    order_id=order_id,
                    payment_id=payment.id,
                    amount=payment.amount,
                    currency=payment.currency,
                )
            )
        else:
            publish(
                PaymentFailed(order_id=order_id, payment_id=payment.id, reason="PAYMENT_DECLINED")
            )
    return payment


def payment_refund(*, order_id: UUID, payment_id: UUID, amount: Decimal, currency: str) -> None:
    """Gives a captured payment back through the gateway, once, and publishes PaymentRefunded;
    a payment refunded already is left as it is. A payment payments never took (the till's,
    say) or that does not match what it says cannot be refunded here: PermanentFailure."""
    payment = Payment.objects.filter(id=payment_id).first()
    if payment is None or payment.order_id != order_id:
        raise PermanentFailure(
            f"payments holds no payment {payment_id} for order {order_id}: "
            "refund it where it was taken"
        )
    if payment.status == PaymentStatus.REFUNDED:
        return
    if payment.status != PaymentStatus.CAPTURED or (amount, currency) != (
        payment.amount,
        payment.currency,
    ):
        raise PermanentFailure(
            f"payment {payment_id} is {payment.status}, {payment.amount} {payment.currency}: "
            f"a refund of {amount} {currency} does not match it"
        )
    # The gateway's call before the transaction; by the charge's reference it refunds once.
    refunded = gateway.refund(
        charge_reference=payment.gateway_reference, amount=payment.amount, currency=currency
    )
    with atomic(using=DATABASE):
        changed = Payment.objects.filter(id=payment_id, status=PaymentStatus.CAPTURED).update(
            status=PaymentStatus.REFUNDED,
            refund_reference=refunded.reference,
            refunded_at=timezone.now(),
        )
        if changed:
            publish(
                PaymentRefunded(
                    order_id=order_id,
                    payment_id=payment_id,
                    amount=payment.amount,
                    currency=payment.currency,
                )
            )
