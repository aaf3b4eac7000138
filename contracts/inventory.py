"""What inventory publishes and the query port it provides."""

from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from contracts.types import Currency, Quantity, Sku
from modulith.contracts import ContractModel, Event


class ReservedLine(ContractModel):
    sku: Sku
    quantity: Quantity


class StockReserved(Event):
    # 2.0: quantities are at least 1, SKUs clean text.
    schema_version = "2.0"
    order_id: UUID
    items: list[ReservedLine]


class StockReservationFailed(Event):
    # 2.0: SKUs are clean text.
    schema_version = "2.0"
    order_id: UUID
    reason: Literal["OUT_OF_STOCK"]
    skus: list[Sku]


class StockReleased(Event):
    # 2.0: quantities are at least 1, SKUs clean text.
    schema_version = "2.0"
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
