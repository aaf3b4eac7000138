"""Payments' public HTTP API, mounted at /api/payments. Every operation needs an API key (the
framework's default)."""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from modules.payments import queries
from modules.payments.models import Payment
from modulith.http import CamelSchema, paginated

router = Router(by_alias=True)


class PaymentOut(CamelSchema):
    payment_id: UUID = Field(validation_alias="id")
    order_id: UUID
    amount: Decimal
    currency: str
    status: str  # CAPTURED, DECLINED, or REFUNDED: captured, then given back whole
    decline_reason: str
    refunded_at: datetime | None


class OrderFilter(CamelSchema):
    order_id: UUID


@router.get("", response=list[PaymentOut])
@paginated("created_at")
def list_payments(request: HttpRequest, filters: Query[OrderFilter]) -> QuerySet[Payment]:
    """An order's payments, oldest first, a page at a time."""
    return queries.payment_list(order_id=filters.order_id)
