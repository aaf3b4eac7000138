"""What orders publishes and the query port it provides."""

from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from modulith.contracts import ContractModel, Event

CancellationReason = Literal["OUT_OF_STOCK", "PAYMENT_DECLINED"]


class OrderedLine(ContractModel):
    sku: str
    quantity: int
    unit_price: Decimal


class OrderPlaced(Event):
    order_id: UUID
    customer_id: str
    items: list[OrderedLine]
    total: Decimal
    currency: str


class OrderConfirmed(Event):
    order_id: UUID


class OrderCancelled(Event):
    order_id: UUID
    reason: CancellationReason


class PaymentRequest(ContractModel):
    """What it takes to charge for an order."""

    order_id: UUID
    customer_id: str
    amount: Decimal
    currency: str
    payment_token: str


class OrderQueries(Protocol):
    """Read-only questions other modules may ask orders."""

    def payment_request(self, order_id: UUID) -> PaymentRequest | None:
        """What to charge for a pending order, or None when no such order is pending."""
        ...
