"""Inventory's public HTTP API, mounted at /api/inventory. Every operation needs an API key
(the framework's default): the storefront's backend reads the catalogue with its key."""

from decimal import Decimal
from typing import Annotated

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field, StringConstraints

from modules.inventory import queries, services
from modules.inventory.models import Product
from modulith.contracts import TextConstraints
from modulith.http import CamelSchema, paginated

router = Router(by_alias=True)

Sku = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class ProductOut(CamelSchema):
    sku: str
    name: str
    unit_price: Decimal
    currency: str
    on_hand: int
    reserved: int
    available: int


class ProductIn(CamelSchema):
    sku: Sku
    name: Annotated[str, TextConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    unit_price: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    currency: Currency
    quantity: Annotated[int, Field(ge=1, le=1_000_000, strict=True)]


@router.get("/products", response=list[ProductOut])
@paginated("sku")
def list_products(request: HttpRequest) -> QuerySet[Product]:
    """The catalogue, by SKU, a page at a time."""
    return queries.product_list()


@router.get("/products/{sku}", response=ProductOut)
def get_product(request: HttpRequest, sku: str) -> Product:
    return queries.product_get(sku=sku)


@router.post("/products", response={201: ProductOut})
def stock_product(request: HttpRequest, payload: ProductIn) -> Status[Product]:
    """Creates the product with `quantity` on hand, or adds `quantity` to its stock."""
    product = services.product_stock(
        sku=payload.sku,
        name=payload.name,
        unit_price=payload.unit_price,
        currency=payload.currency,
        quantity=payload.quantity,
    )
    return Status(201, product)
