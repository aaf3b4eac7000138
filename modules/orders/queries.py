"""Orders' reads, and its implementation of the OrderQueries port."""

from uuid import UUID

from django.db.models import QuerySet

from contracts.orders import PaymentRequest
from modules.orders.models import Order, OrderStatus
from modulith import NotFound


def order_get(*, order_id: UUID) -> Order:
    try:
        return Order.objects.prefetch_related("lines").get(id=order_id)
    except Order.DoesNotExist:
        raise NotFound(f"no order has id {order_id}") from None


def order_list(*, customer_id: str) -> QuerySet[Order]:
    return Order.objects.filter(customer_id=customer_id).prefetch_related("lines")


class OrderQueriesImpl:
    """What other modules may ask orders, answered from its own database."""

    def payment_request(self, order_id: UUID) -> PaymentRequest | None:
        order = Order.objects.filter(id=order_id, status=OrderStatus.PENDING).first()
        if order is None:
            return None
        return PaymentRequest(
            order_id=order.id,
            customer_id=order.customer_id,
            amount=order.total,
            currency=order.currency,
            payment_token=order.payment_token,
        )
