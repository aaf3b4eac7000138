"""What orders publishes and the query port it provides."""

from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from contracts.types import Currency, CustomerId, Quantity, Sku
from modulith.contracts import CleanText, ContractModel, Event, unchanged

CancellationReason = Literal["OUT_OF_STOCK", "PAYMENT_DECLINED"]


class OrderedLine(ContractModel):
    sku: Sku
    quantity: Quantity
    unit_price: Decimal


class OrderPlaced(Event):
    # 2.0: customer ids and SKUs are clean text, quantities at least 1, the currency a code.
    schema_version = "2.0"
    upcasters = {1: unchanged}
    order_id: UUID
    customer_id: CustomerId
    items: list[OrderedLine]
    total: Decimal
    currency: Currency


class OrderConfirmed(Event):
    order_id: UUID


class OrderCancelled(Event):
    order_id: UUID
    reason: CancellationReason


class PaymentRequest(ContractModel):
    """What it takes to charge for an order."""

    order_id: UUID
    customer_id: CustomerId
    amount: Decimal
    currency: Currency
    payment_token: CleanText


class OrderQueries(Protocol):
    """Read-only questions other modules may ask orders."""

    def payment_request(self, order_id: UUID) -> PaymentRequest | None:
        """What to charge for a pending order, or None when no such order is pending."""
        ...
