"""Payments in the admin, read-only: a payment is the gateway's answer, recorded once per
order; changing it by hand would leave the orders module with the opposite story."""

from django.contrib import admin

from modules.payments.models import Payment
from modulith.admin import ReadOnlyModuleAdmin


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModuleAdmin):
    list_display = (
        "id",
        "order_id",
        "customer_id",
        "amount",
        "currency",
        "status",
        "decline_reason",
        "refunded_at",
        "created_at",
    )
    list_filter = ("status", "currency")
    search_fields = ("id", "order_id", "customer_id", "gateway_reference")
    date_hierarchy = "created_at"
