"""Inventory's writes. Each service owns its transaction and publishes inside it."""

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from uuid import UUID

from django.db.models import F

from contracts.inventory import ReservedLine, StockReleased, StockReservationFailed, StockReserved
from modules.inventory.models import Product, Reservation, ReservationStatus
from modulith import InvalidInput
from modulith.bus import atomic, publish

DATABASE = "inventory"


class OutOfStock(Exception):
    def __init__(self, skus: list[str]) -> None:
        super().__init__(f"not enough stock of {', '.join(skus)}")
        self.skus = skus


def product_stock(
    *, sku: str, name: str, unit_price: Decimal, currency: str, quantity: int
) -> Product:
    """Creates the product with `quantity` on hand, or restocks an existing one."""
    with atomic(using=DATABASE):
        product, created = Product.objects.select_for_update().get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "unit_price": unit_price,
                "currency": currency,
                "on_hand": quantity,
            },
        )
        if not created:
            if product.currency != currency:
                raise InvalidInput(f"{sku} is priced in {product.currency}", field="currency")
            Product.objects.filter(sku=sku).update(
                on_hand=F("on_hand") + quantity, name=name, unit_price=unit_price
            )
            product.refresh_from_db()
    return product


def stock_reserve(*, order_id: UUID, lines: Iterable[tuple[str, int]]) -> bool:
    """Reserves every line of the order or none, and says which it was with an event.

    Each line is a conditional UPDATE (`available >= quantity`): the database re-checks the
    condition under the row lock, so two orders can never take the same unit. Lines are taken
    in SKU order so concurrent orders lock rows in the same order and cannot deadlock.
    """
    wanted = Counter[str]()
    for sku, quantity in lines:
        wanted[sku] += quantity
    if Reservation.objects.filter(order_id=order_id).exists():
        return True  # this order's stock is already held
    try:
        with atomic(using=DATABASE):
            _reserve_all(order_id, wanted)
            publish(StockReserved(order_id=order_id, items=_reserved_lines(wanted)))
    except OutOfStock as shortage:
        with atomic(using=DATABASE):
            publish(
                StockReservationFailed(
                    order_id=order_id, reason="OUT_OF_STOCK", missing_skus=shortage.skus
                )
            )
        return False
    return True


def _reserve_all(order_id: UUID, wanted: Counter[str]) -> None:
    short = []
    for sku in sorted(wanted):
        taken = Product.objects.filter(sku=sku, on_hand__gte=F("reserved") + wanted[sku]).update(
            reserved=F("reserved") + wanted[sku]
        )
        if not taken:
            short.append(sku)
    if short:
        raise OutOfStock(short)  # rolls back the lines already taken
    Reservation.objects.bulk_create(
        Reservation(order_id=order_id, sku=sku, quantity=quantity)
        for sku, quantity in wanted.items()
    )


def stock_commit(*, order_id: UUID) -> None:
    """The order is confirmed: its reserved units leave the shelf."""
    with atomic(using=DATABASE):
        for reservation in _held(order_id):
            Product.objects.filter(sku=reservation.sku).update(
                on_hand=F("on_hand") - reservation.quantity,
                reserved=F("reserved") - reservation.quantity,
            )
            reservation.status = ReservationStatus.COMMITTED
            reservation.save(update_fields=["status", "updated_at"])


def stock_release(*, order_id: UUID) -> None:
    """The order will not be paid: its reserved units go back on sale."""
    with atomic(using=DATABASE):
        released = []
        for reservation in _held(order_id):
            Product.objects.filter(sku=reservation.sku).update(
                reserved=F("reserved") - reservation.quantity
            )
            reservation.status = ReservationStatus.RELEASED
            reservation.save(update_fields=["status", "updated_at"])
            released.append(ReservedLine(sku=reservation.sku, quantity=reservation.quantity))
        if released:
            publish(StockReleased(order_id=order_id, items=released))


def _held(order_id: UUID) -> list[Reservation]:
    return list(
        Reservation.objects.select_for_update()
        .filter(order_id=order_id, status=ReservationStatus.RESERVED)
        .order_by("sku")
    )


def _reserved_lines(wanted: Counter[str]) -> list[ReservedLine]:
    return [ReservedLine(sku=sku, quantity=quantity) for sku, quantity in sorted(wanted.items())]
