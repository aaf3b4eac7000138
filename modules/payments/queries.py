"""Payments' reads."""

from uuid import UUID

from django.db.models import QuerySet

from modules.payments.models import Payment


def payment_list(*, order_id: UUID) -> QuerySet[Payment]:
    return Payment.objects.filter(order_id=order_id)
