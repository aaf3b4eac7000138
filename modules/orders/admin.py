"""Orders in the admin, read-only: an order changes only through the saga, and a status set by
hand would skip the events inventory and payments wait for."""

from django.contrib import admin

from modules.orders.models import Order, OrderLine
from modulith.admin import ModuleTabularInline, ReadOnly, ReadOnlyModuleAdmin


class OrderLineInline(ReadOnly, ModuleTabularInline):
    model = OrderLine
    fields = ("sku", "quantity", "unit_price")


@admin.register(Order)
class OrderAdmin(ReadOnlyModuleAdmin):
    list_display = (
        "id",
        "customer_id",
        "status",
        "cancellation_reason",
        "total",
        "currency",
        "created_at",
    )
    list_filter = ("status", "cancellation_reason", "currency")
    search_fields = ("id", "customer_id", "idempotency_key")
    date_hierarchy = "created_at"
    # The payment token is the customer's: it is passed to the gateway, never shown.
    fields = (
        "id",
        "customer_id",
        "status",
        "cancellation_reason",
        "total",
        "currency",
        "idempotency_key",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("id", "created_at", "updated_at")
    inlines = (OrderLineInline,)
