"""What inventory publishes and the query port it provides."""

from decimal import Decimal
from typing import Any, Literal, Protocol
from uuid import UUID

from contracts.types import Currency, Quantity, Sku
from modulith.contracts import ContractModel, Event, unchanged


class ReservedLine(ContractModel):
    sku: Sku
    quantity: Quantity


class StockReserved(Event):
    # 2.0: quantities are at least 1, SKUs clean text.
    schema_version = "2.0"
    upcasters = {1: unchanged}
    order_id: UUID
    items: list[ReservedLine]


def stock_reservation_failed_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 called the SKUs short of stock `skus`."""
    data = dict(data)
    data["missingSkus"] = data.pop("skus")
    return data


def stock_reservation_failed_v3_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["skus"] = data.pop("missingSkus")
    return data


class StockReservationFailed(Event):
    # 2.0: SKUs are clean text. 3.0: `skus` is `missingSkus`, saying which SKUs they are.
    schema_version = "3.0"
    upcasters = {1: unchanged, 2: stock_reservation_failed_v2_to_v3}
    downcasters = {1: unchanged, 2: stock_reservation_failed_v3_to_v2}
    order_id: UUID
    reason: Literal["OUT_OF_STOCK"]
    missing_skus: list[Sku]


class StockReleased(Event):
    # 2.0: quantities are at least 1, SKUs clean text.
    schema_version = "2.0"
    upcasters = {1: unchanged}
    order_id: UUID
    items: list[ReservedLine]


class ProductPrice(ContractModel):
    sku: Sku
    unit_price: Decimal
    currency: Currency


class InventoryQueries(Protocol):
    """Read-only questions other modules may ask inventory."""

    def prices(self, skus: list[str]) -> list[ProductPrice]:
        """Current prices of the given SKUs; unknown SKUs are absent from the result."""
        ...
