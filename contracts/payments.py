"""What payments publishes."""

from decimal import Decimal
from typing import Literal
from uuid import UUID

from modulith.contracts import Event


class PaymentCaptured(Event):
    order_id: UUID
    payment_id: UUID
    amount: Decimal
    currency: str


class PaymentFailed(Event):
    order_id: UUID
    payment_id: UUID
    reason: Literal["PAYMENT_DECLINED"]
