"""Payments' writes. Each service owns its transaction and publishes inside it."""

from uuid import UUID

from contracts.orders import OrderQueries
from contracts.payments import PaymentCaptured, PaymentFailed
from modules.payments import gateway
from modules.payments.models import Payment, PaymentStatus
from modulith.bus import atomic, publish
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
