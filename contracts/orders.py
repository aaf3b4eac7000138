"""What orders publishes and the query port it provides."""

from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from contracts.types import Currency, CustomerId, Quantity, Sku
from modulith.contracts import CleanText, ContractModel, Event, unchanged

CancellationReason = Literal["OUT_OF_STOCK", "PAYMENT_DECLINED", "PAYMENT_TIMEOUT"]


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
    # 2.0: an order whose payment did not come in time is cancelled with PAYMENT_TIMEOUT
    # (a 1.x event reads as it is: its reason is one of 2.0's).
    schema_version = "2.0"
    upcasters = {1: unchanged}
    order_id: UUID
    reason: CancellationReason


class PaymentDeadlinePassed(Event):
    """An order's time to be paid is up (ORDERS_PAYMENT_TIMEOUT after it was placed): orders
    publishes it to itself when it places the order, due then, and cancels it once the order
    is final; delivered, it cancels an order still pending."""

    order_id: UUID


class OrderPaymentRefused(Event):
    """A payment was captured for an order that no longer takes it (cancelled meanwhile, as
    when its deadline passed first): the money is to go back."""

    order_id: UUID
    payment_id: UUID
    amount: Decimal
    currency: Currency
    reason: Literal["ORDER_CANCELLED"]


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
