"""Providers of the shop's query ports for scenarios that leave the providing module out:
plain objects implementing the port, answering what the test sets."""

from decimal import Decimal
from uuid import UUID, uuid4

from contracts.inventory import ProductPrice
from contracts.orders import PaymentRequest


class Catalogue:
    """Inventory's prices, as a test sets them: a provider of InventoryQueries."""

    def __init__(self) -> None:
        self._prices: dict[str, ProductPrice] = {}

    def add(self, sku: str, price: str = "10.00", currency: str = "EUR") -> None:
        self._prices[sku] = ProductPrice(sku=sku, unit_price=Decimal(price), currency=currency)

    def prices(self, skus: list[str]) -> list[ProductPrice]:
        return [self._prices[sku] for sku in skus if sku in self._prices]


class PendingOrders:
    """Orders' pending orders, as a test sets them: a provider of OrderQueries."""

    def __init__(self) -> None:
        self._requests: dict[UUID, PaymentRequest] = {}

    def add(
        self, amount: str = "10.00", token: str = "tok_visa", customer: str = "customer-1"
    ) -> UUID:
        """A new pending order of `amount` euros, paid with `token`; its id."""
        order_id = uuid4()
        self._requests[order_id] = PaymentRequest(
            order_id=order_id,
            customer_id=customer,
            amount=Decimal(amount),
            currency="EUR",
            payment_token=token,
        )
        return order_id

    def payment_request(self, order_id: UUID) -> PaymentRequest | None:
        return self._requests.get(order_id)
