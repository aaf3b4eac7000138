"""Inventory's reads, and its implementation of the InventoryQueries port."""

from django.db.models import QuerySet

from contracts.inventory import ProductPrice
from modules.inventory.models import Product
from modulith import NotFound


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def product_get(*, sku: str) -> Product:
    try:
        return Product.objects.get(sku=sku)
    except Product.DoesNotExist:
        raise NotFound(f"no product has SKU {sku!r}") from None


class InventoryQueriesImpl:
    """What other modules may ask inventory, answered from its own database."""

    def prices(self, skus: list[str]) -> list[ProductPrice]:
        return [
            ProductPrice(sku=product.sku, unit_price=product.unit_price, currency=product.currency)
            for product in Product.objects.filter(sku__in=skus)
        ]
