"""Payments' reactions to other modules' events."""

from contracts.inventory import StockReserved
from modules.payments import services


def on_stock_reserved(event: StockReserved) -> None:
    services.payment_charge(order_id=event.order_id)
