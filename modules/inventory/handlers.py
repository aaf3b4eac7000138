"""Inventory's reactions to other modules' events. Each calls a service; none holds rules."""

from contracts.orders import OrderCancelled, OrderConfirmed, OrderPlaced
from contracts.payments import PaymentFailed
from modules.inventory import services


def on_order_placed(event: OrderPlaced) -> None:
    services.stock_reserve(
        order_id=event.order_id, lines=[(item.sku, item.quantity) for item in event.items]
    )


def on_order_confirmed(event: OrderConfirmed) -> None:
    services.stock_commit(order_id=event.order_id)


def on_order_cancelled(event: OrderCancelled) -> None:
    # Whatever the reason: an order cancelled before its stock was held releases nothing.
    services.stock_release(order_id=event.order_id)


def on_payment_failed(event: PaymentFailed) -> None:
    services.stock_release(order_id=event.order_id)
