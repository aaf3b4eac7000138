"""Inventory in the admin. A product's name and price are edited here, and new products added;
stock moves only through the API and the saga (restock with POST /api/inventory/products), so
on-hand and reserved quantities are read-only once a product exists. Reservations are
read-only: they follow orders."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from modules.inventory.models import Product, Reservation
from modulith.admin import ModuleAdmin, ReadOnlyModuleAdmin


@admin.register(Product)
class ProductAdmin(ModuleAdmin):
    list_display = ("sku", "name", "unit_price", "currency", "on_hand", "reserved", "available")
    list_filter = ("currency",)
    search_fields = ("sku", "name")
    fields = ("sku", "name", "unit_price", "currency", "on_hand", "reserved")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("reserved",)
        return ("sku", "currency", "on_hand", "reserved")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # orders in flight name the product: its reservations must find it


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyModuleAdmin):
    list_display = ("order_id", "sku", "quantity", "status", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("order_id", "sku")
    date_hierarchy = "created_at"
