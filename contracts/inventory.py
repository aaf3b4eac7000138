"""What inventory publishes and the query port it provides."""

from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from modulith.contracts import ContractModel, Event


class ReservedLine(ContractModel):
    sku: str
    quantity: int


class StockReserved(Event):
    order_id: UUID
    items: list[ReservedLine]


class StockReservationFailed(Event):
    order_id: UUID
    reason: Literal["OUT_OF_STOCK"]
    skus: list[str]


class StockReleased(Event):
    order_id: UUID
    items: list[ReservedLine]


class ProductPrice(ContractModel):
    sku: str
    unit_price: Decimal
    currency: str


class InventoryQueries(Protocol):
    """Read-only questions other modules may ask inventory."""

    def prices(self, skus: list[str]) -> list[ProductPrice]:
        """Current prices of the given SKUs; unknown SKUs are absent from the result."""
        ...
