"""The shop's events as another module would publish them, for tests that deliver them to a
module on its own."""

from decimal import Decimal
from uuid import UUID, uuid4

from contracts.inventory import ReservedLine, StockReserved
from contracts.orders import OrderedLine, OrderPlaced
from contracts.payments import PaymentCaptured, PaymentFailed


def order_placed(*lines: tuple[str, int], order_id: UUID | None = None) -> OrderPlaced:
    """An order for these (sku, quantity) lines at 10.00 EUR a unit."""
    return OrderPlaced(
        order_id=order_id or uuid4(),
        customer_id="customer-1",
        items=[
            OrderedLine(sku=sku, quantity=qty, unit_price=Decimal("10.00")) for sku, qty in lines
        ],
        total=Decimal("10.00") * sum(qty for _, qty in lines),
        currency="EUR",
    )


def stock_reserved(order_id: UUID) -> StockReserved:
    return StockReserved(order_id=order_id, items=[ReservedLine(sku="KB-1", quantity=1)])


def payment_captured(
    order_id: UUID, amount: str = "10.00", currency: str = "EUR"
) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=order_id, payment_id=uuid4(), amount=Decimal(amount), currency=currency
    )


def payment_failed(order_id: UUID) -> PaymentFailed:
    return PaymentFailed(order_id=order_id, payment_id=uuid4(), reason="PAYMENT_DECLINED")
