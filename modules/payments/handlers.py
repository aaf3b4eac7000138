"""Payments' reactions to other modules' events."""

from contracts.inventory import StockReserved
from contracts.orders import OrderPaymentRefused
from modules.payments import services


def on_stock_reserved(event: StockReserved) -> None:
    services.payment_charge(order_id=event.order_id)


def on_order_payment_refused(event: OrderPaymentRefused) -> None:
    services.payment_refund(
        order_id=event.order_id,
        payment_id=event.payment_id,
        amount=event.amount,
        currency=event.currency,
    )
