"""What payments publishes."""

from decimal import Decimal
from typing import Literal
from uuid import UUID

from contracts.types import Currency
from modulith.contracts import Event, unchanged


class PaymentCaptured(Event):
    # 2.0: the currency is a code of three capital letters.
    schema_version = "2.0"
    upcasters = {1: unchanged}
    order_id: UUID
    payment_id: UUID
    amount: Decimal
    currency: Currency


class PaymentFailed(Event):
    order_id: UUID
    payment_id: UUID
    reason: Literal["PAYMENT_DECLINED"]


class PaymentRefunded(Event):
    """The whole amount of a captured payment went back to the customer."""

    order_id: UUID
    payment_id: UUID
    amount: Decimal
    currency: Currency
