"""Orders' writes. Each service owns its transaction and publishes inside it."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError

from contracts.inventory import InventoryQueries, ProductPrice
from contracts.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderedLine,
    OrderPaymentRefused,
    OrderPlaced,
    PaymentDeadlinePassed,
)
from modules.orders.models import CancellationReason, Order, OrderLine, OrderStatus
from modulith import Conflict, InvalidInput, cancel_scheduled
from modulith.bus import aatomic, apublish, atomic, publish
from modulith.conf import parse_duration
from modulith.ports import query_port

DATABASE = "orders"


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


class PaymentMismatch(Exception):
    """A capture that is not what the order costs: no later attempt can make it so."""


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    replayed: bool  # True when an Idempotency-Key repeat returned the first order


def order_place(
    *,
    customer_id: str,
    lines: Sequence[RequestedLine],
    payment_token: str,
    idempotency_key: str | None = None,
) -> PlacedOrder:
    """Prices the lines with inventory, stores a PENDING order and publishes OrderPlaced, and
    its payment deadline (PaymentDeadlinePassed, due ORDERS_PAYMENT_TIMEOUT later)."""
    fingerprint = _fingerprint(customer_id, lines, payment_token)
    if idempotency_key and (earlier := _earlier_order(idempotency_key, fingerprint)):
        return PlacedOrder(earlier, replayed=True)
    order, ordered = _new_order(
        customer_id, _price(lines), lines, payment_token, idempotency_key, fingerprint
    )
    try:
        with atomic(using=DATABASE):
            order.save(force_insert=True)
            stored = OrderLine.objects.bulk_create(ordered)
            publish(_order_placed(order, stored))
            publish(
                PaymentDeadlinePassed(order_id=order.id),
                delay=payment_timeout(),
                schedule_key=deadline_key(order.id),
            )
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race.
        if idempotency_key and (earlier := _earlier_order(idempotency_key, fingerprint)):
            return PlacedOrder(earlier, replayed=True)
        raise
    return PlacedOrder(order, replayed=False)


async def aorder_place(
    *,
    customer_id: str,
    lines: Sequence[RequestedLine],
    payment_token: str,
    idempotency_key: str | None = None,
) -> PlacedOrder:
    """`order_place` for async views: the same order and events, written with the async ORM
    in `aatomic`, so they commit together on the request's database thread."""
    fingerprint = _fingerprint(customer_id, lines, payment_token)
    earlier_order = sync_to_async(_earlier_order)
    if idempotency_key and (earlier := await earlier_order(idempotency_key, fingerprint)):
        return PlacedOrder(earlier, replayed=True)
    # The query port may call inventory over the network: before the transaction, not in it.
    priced = await sync_to_async(_price)(lines)
    order, ordered = _new_order(
        customer_id, priced, lines, payment_token, idempotency_key, fingerprint
    )
    try:
        async with aatomic(using=DATABASE):
            await order.asave(force_insert=True)
            stored = await OrderLine.objects.abulk_create(ordered)
            await apublish(_order_placed(order, stored))
            await apublish(
                PaymentDeadlinePassed(order_id=order.id),
                delay=payment_timeout(),
                schedule_key=deadline_key(order.id),
            )
    except IntegrityError:
        if idempotency_key and (earlier := await earlier_order(idempotency_key, fingerprint)):
            return PlacedOrder(earlier, replayed=True)
        raise
    return PlacedOrder(order, replayed=False)


def order_confirm(*, order_id: UUID, payment_id: UUID, amount: Decimal, currency: str) -> None:
    """Confirms a pending order paid in full: a capture of another amount or currency than the
    order's total raises PaymentMismatch and leaves the order as it was. A capture for an
    order cancelled meanwhile (its deadline passed first) is refused, for payments to refund."""
    with atomic(using=DATABASE):
        order = _locked(order_id)
        if order.status == OrderStatus.CANCELLED:
            publish(
                OrderPaymentRefused(
                    order_id=order.id,
                    payment_id=payment_id,
                    amount=amount,
                    currency=currency,
                    reason="ORDER_CANCELLED",
                )
            )
            return
        if order.status != OrderStatus.PENDING:
            return
        if (amount, currency) != (order.total, order.currency):
            raise PaymentMismatch(
                f"order {order.id} costs {order.total} {order.currency}; "
                f"a capture of {amount} {currency} does not pay for it"
            )
        order.status = OrderStatus.CONFIRMED
        order.save(update_fields=["status", "updated_at"])
        publish(OrderConfirmed(order_id=order.id))
        cancel_scheduled(key=deadline_key(order.id), using=DATABASE)


def order_cancel(*, order_id: UUID, reason: CancellationReason) -> None:
    """Cancels a pending order with the reason; an order already final stays as it is (a
    deadline may pass late, or twice)."""
    with atomic(using=DATABASE):
        order = _locked(order_id)
        if order.status != OrderStatus.PENDING:
            return
        order.status = OrderStatus.CANCELLED
        order.cancellation_reason = reason
        order.save(update_fields=["status", "cancellation_reason", "updated_at"])
        publish(OrderCancelled(order_id=order.id, reason=reason.value))
        cancel_scheduled(key=deadline_key(order.id), using=DATABASE)


def payment_timeout() -> timedelta:
    """How long a placed order waits for its payment (ORDERS_PAYMENT_TIMEOUT)."""
    configured = settings.ORDERS_PAYMENT_TIMEOUT
    if isinstance(configured, timedelta):
        return configured
    return parse_duration("ORDERS_PAYMENT_TIMEOUT", str(configured))


def deadline_key(order_id: UUID) -> str:
    """The schedule key of the order's payment deadline."""
    return f"payment-deadline:{order_id}"


def _locked(order_id: UUID) -> Order:
    """The order, locked: a capture and a cancel of it take turns. A final order is never
    changed."""
    order = Order.objects.select_for_update().filter(id=order_id).first()
    if order is None:
        raise LookupError(f"order {order_id} does not exist")  # retried: it may not be ours yet
    return order


def _price(lines: Sequence[RequestedLine]) -> dict[str, ProductPrice]:
    skus = sorted({line.sku for line in lines})
    prices = {price.sku: price for price in query_port(InventoryQueries).prices(skus)}
    for index, line in enumerate(lines):
        if line.sku not in prices:
            raise InvalidInput(f"unknown SKU {line.sku!r}", field=f"items[{index}].sku")
    return prices


def _single_currency(priced: dict[str, ProductPrice]) -> str:
    currencies = sorted({price.currency for price in priced.values()})
    if len(currencies) > 1:
        raise InvalidInput(
            f"items are priced in {' and '.join(currencies)}; an order takes one currency",
            field="items",
        )
    return currencies[0]


def _new_order(
    customer_id: str,
    priced: dict[str, ProductPrice],
    lines: Sequence[RequestedLine],
    payment_token: str,
    idempotency_key: str | None,
    fingerprint: str,
) -> tuple[Order, list[OrderLine]]:
    """The PENDING order and its lines at inventory's prices, not stored yet."""
    currency = _single_currency(priced)
    total = sum((priced[line.sku].unit_price * line.quantity for line in lines), Decimal(0))
    order = Order(
        customer_id=customer_id,
        total=total,
        currency=currency,
        payment_token=payment_token,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    ordered = [
        OrderLine(
            order=order,
            sku=line.sku,
            quantity=line.quantity,
            unit_price=priced[line.sku].unit_price,
        )
        for line in lines
    ]
    return order, ordered


def _order_placed(order: Order, lines: Sequence[OrderLine]) -> OrderPlaced:
    return OrderPlaced(
        order_id=order.id,
        customer_id=order.customer_id,
        items=[
            OrderedLine(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price)
            for line in lines
        ],
        total=order.total,
        currency=order.currency,
    )


def _earlier_order(idempotency_key: str, fingerprint: str) -> Order | None:
    earlier = Order.objects.filter(idempotency_key=idempotency_key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different order", field="Idempotency-Key"
        )
    return earlier


def _fingerprint(customer_id: str, lines: Sequence[RequestedLine], payment_token: str) -> str:
    request = [customer_id, [[line.sku, line.quantity] for line in lines], payment_token]
    return hashlib.sha256(json.dumps(request).encode()).hexdigest()
