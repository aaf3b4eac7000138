"""Orders' public HTTP API, mounted at /api/orders. Every operation needs an API key (the
framework's default): an order's id is no secret, and a key is a trusted client."""

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Header, Query, Router, Status
from pydantic import Field, StringConstraints

from modules.orders import queries, services
from modules.orders.models import Order
from modulith.contracts import TextConstraints
from modulith.http import CamelSchema, paginated

router = Router(by_alias=True)

CustomerId = Annotated[str, TextConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class LineIn(CamelSchema):
    sku: Annotated[str, TextConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=1000, strict=True)]


class OrderIn(CamelSchema):
    customer_id: CustomerId
    items: Annotated[list[LineIn], Field(min_length=1, max_length=100)]
    payment_token: Annotated[
        str, StringConstraints(pattern=r"^tok_[A-Za-z0-9_]+$", max_length=100)
    ] = "tok_visa"


class LineOut(CamelSchema):
    sku: str
    quantity: int
    unit_price: Decimal


class OrderOut(CamelSchema):
    order_id: UUID = Field(validation_alias="id")
    customer_id: str
    status: str
    cancellation_reason: str | None
    total: Decimal
    currency: str
    items: list[LineOut] = Field(validation_alias="lines")
    created_at: str

    @staticmethod
    def resolve_cancellation_reason(order: Order) -> str | None:
        return order.cancellation_reason or None

    @staticmethod
    def resolve_items(order: Order) -> list[LineOut]:
        return [LineOut.model_validate(line, from_attributes=True) for line in order.lines.all()]

    @staticmethod
    def resolve_created_at(order: Order) -> str:
        return order.created_at.isoformat()


class CustomerFilter(CamelSchema):
    customer_id: CustomerId


IdempotencyKey = Annotated[
    str | None,
    StringConstraints(min_length=1, max_length=200),
    Header(alias="Idempotency-Key", default=None),
]


@router.post("", response={201: OrderOut})
def place_order(
    request: HttpRequest,
    response: HttpResponse,
    payload: OrderIn,
    idempotency_key: IdempotencyKey = None,
) -> Status[Order]:
    """Places an order; it is PENDING until inventory and payments have answered."""
    placed = services.order_place(**_placing(payload, idempotency_key))
    if placed.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(
        201, queries.order_get(order_id=placed.order.id) if placed.replayed else placed.order
    )


@router.get("", response=list[OrderOut])
@paginated("-created_at")
def list_orders(request: HttpRequest, filters: Query[CustomerFilter]) -> QuerySet[Order]:
    """A customer's orders, newest first, a page at a time."""
    return queries.order_list(customer_id=filters.customer_id)


# The same operations as async views (django-ninja's async operations): under an ASGI server,
# no thread waits while inventory prices the order. Same bodies, same answers, same events.
# Declared before /{order_id}, which would take /async for an order's id.


@router.post("/async", response={201: OrderOut})
async def place_order_async(
    request: HttpRequest,
    response: HttpResponse,
    payload: OrderIn,
    idempotency_key: IdempotencyKey = None,
) -> Status[Order]:
    """Places an order as `POST /api/orders` does, from an async view."""
    placed = await services.aorder_place(**_placing(payload, idempotency_key))
    if placed.replayed:
        response["Idempotent-Replayed"] = "true"
    # Read back with its lines: the answer is shaped on the event loop, where no query may run.
    return Status(201, await sync_to_async(queries.order_get)(order_id=placed.order.id))


@router.get("/async/{order_id}", response=OrderOut)
async def get_order_async(request: HttpRequest, order_id: UUID) -> Order:
    return await sync_to_async(queries.order_get)(order_id=order_id)


@router.get("/{order_id}", response=OrderOut)
def get_order(request: HttpRequest, order_id: UUID) -> Order:
    return queries.order_get(order_id=order_id)


def _placing(payload: OrderIn, idempotency_key: str | None) -> dict[str, Any]:
    """The arguments of order_place (and aorder_place) for this request."""
    return {
        "customer_id": payload.customer_id,
        "lines": [
            services.RequestedLine(sku=item.sku, quantity=item.quantity) for item in payload.items
        ],
        "payment_token": payload.payment_token,
        "idempotency_key": idempotency_key,
    }
