"""Concurrent orders for the last units never oversell.

Many threads, each with its own database connection, reserve stock at the same instant (a
barrier releases them together). The database has to serialise them: on PostgreSQL through
row locks on the conditional UPDATE, on SQLite through its single writer. Every wait is
bounded, and each thread closes its connections when it is done.

inventory runs on its own (orders and payments are absent), and the events each reservation
publishes are read back from what the scenario captured.
"""

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from django.db import connections

from contracts.inventory import StockReservationFailed, StockReserved
from modules.inventory.models import Product, Reservation
from modules.inventory.services import product_stock, stock_reserve
from modulith.testing.scenario import Scenario

BARRIER_SECONDS = 15.0
JOIN_SECONDS = 60.0

Lines = list[tuple[str, int]]


@dataclass
class Race:
    """What each order of a race asked for and what became of it."""

    orders: dict[UUID, Lines]
    outcomes: dict[UUID, bool] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def reserved(self) -> list[UUID]:
        return [order_id for order_id, ok in self.outcomes.items() if ok]

    @property
    def refused(self) -> list[UUID]:
        return [order_id for order_id, ok in self.outcomes.items() if not ok]


def race(orders: Sequence[Lines]) -> Race:
    """Runs stock_reserve for every order at once, one thread each, and collects the results."""
    result = Race(orders={uuid4(): list(lines) for lines in orders})
    barrier = threading.Barrier(len(result.orders))
    lock = threading.Lock()

    def reserve(order_id: UUID, lines: Lines) -> None:
        try:
            barrier.wait(timeout=BARRIER_SECONDS)
            ok = stock_reserve(order_id=order_id, lines=lines)
            with lock:
                result.outcomes[order_id] = ok
        except BaseException as error:
            with lock:
                result.errors.append(f"{order_id} {lines}: {type(error).__name__}: {error}")
        finally:
            connections.close_all()  # this thread's connections only

    threads = [
        threading.Thread(target=reserve, args=(order_id, lines), name=f"reserve-{index}")
        for index, (order_id, lines) in enumerate(result.orders.items())
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {JOIN_SECONDS} s: {stuck}"
    return result


def stocked(sku: str, quantity: int) -> str:
    product_stock(
        sku=sku,
        name=f"Product {sku}",
        unit_price=Decimal("9.90"),
        currency="EUR",
        quantity=quantity,
    )
    return sku


def product(sku: str) -> Product:
    return Product.objects.using("inventory").get(sku=sku)


def published_for(
    inventory: Scenario, event_type: type[StockReserved | StockReservationFailed], race_: Race
) -> Counter[UUID]:
    """How many events of `event_type` inventory published for each order of the race."""
    return Counter(
        event.order_id
        for event in inventory.published(event_type)
        if event.order_id in race_.orders
    )


def check_outcomes(inventory: Scenario, result: Race) -> None:
    """Every thread finished without an error, each order has one answer, and inventory
    published exactly one event per order, the one that matches its answer."""
    assert result.errors == []
    assert set(result.outcomes) == set(result.orders)
    assert published_for(inventory, StockReserved, result) == Counter(result.reserved)
    assert published_for(inventory, StockReservationFailed, result) == Counter(result.refused)


def check_reservations(result: Race) -> None:
    """All or nothing: a reserved order holds a row for each of its SKUs, a refused one none."""
    rows = Counter(
        Reservation.objects.using("inventory")
        .filter(order_id__in=list(result.orders))
        .values_list("order_id", flat=True)
    )
    expected = Counter({order_id: len(result.orders[order_id]) for order_id in result.reserved})
    assert rows == expected
    for order_id in result.reserved:
        held = dict(
            Reservation.objects.using("inventory")
            .filter(order_id=order_id)
            .values_list("sku", "quantity")
        )
        assert held == dict(result.orders[order_id])


def reserved_of(result: Race, sku: str) -> int:
    """The units of `sku` that the reserved orders of the race asked for."""
    return sum(
        quantity
        for order_id in result.reserved
        for line_sku, quantity in result.orders[order_id]
        if line_sku == sku
    )


def require_postgresql() -> None:
    vendor = connections["inventory"].vendor
    if vendor != "postgresql":
        pytest.skip(
            f"needs PostgreSQL: the inventory database is {vendor} here "
            "(make test runs it on a throwaway PostgreSQL cluster)"
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["inventory"])
def test_last_units_never_oversell_on_postgresql(inventory: Scenario) -> None:
    """20 orders race for the last 5 units: 5 are reserved, 15 refused, none oversold. Some
    orders take a second product too, in either line order: no deadlock, and an order refused
    for one product gives back what it took of the other."""
    require_postgresql()
    race_for_the_last_units(inventory, units=5, extra_units=3, singles=12, pairs=4)


@pytest.mark.django_db(transaction=True, databases=["inventory"])
def test_last_units_never_oversell_on_any_database(inventory: Scenario) -> None:
    """The same race on whatever database runs the tests (SQLite by default): SQLite lets one
    writer in at a time and the others wait out the busy timeout, so the result is the same."""
    race_for_the_last_units(inventory, units=3, extra_units=2, singles=6, pairs=2)


def race_for_the_last_units(
    inventory: Scenario, *, units: int, extra_units: int, singles: int, pairs: int
) -> None:
    """`singles` orders want one of the last `units`; `pairs` orders in each line order want
    one of them and one of the `extra_units` too. Exactly `units` orders win."""
    last = stocked(f"LAST-{uuid4().hex[:8]}", units)
    extra = stocked(f"EXTRA-{uuid4().hex[:8]}", extra_units)
    orders: list[Lines] = (
        [[(last, 1)]] * singles
        + [[(last, 1), (extra, 1)]] * pairs
        + [[(extra, 1), (last, 1)]] * pairs
    )

    result = race(orders)

    check_outcomes(inventory, result)
    assert len(result.reserved) == units
    assert len(result.refused) == len(orders) - units
    assert product(last).reserved == units
    assert product(last).reserved <= product(last).on_hand
    assert product(extra).reserved == reserved_of(result, extra)
    assert product(extra).reserved <= product(extra).on_hand
    check_reservations(result)


@pytest.mark.django_db(transaction=True, databases=["inventory"])
def test_refused_orders_each_name_a_sold_out_product(inventory: Scenario) -> None:
    """Nothing is refused while stock remains: every refused order asked for a product that
    has no unit left. Two products, each ordered beyond its stock, alone and together."""
    first = stocked(f"FIRST-{uuid4().hex[:8]}", 3)
    second = stocked(f"SECOND-{uuid4().hex[:8]}", 3)
    orders: list[Lines] = (
        [[(first, 1)]] * 3
        + [[(second, 1)]] * 3
        + [[(first, 1), (second, 1)]] * 2
        + [[(second, 1), (first, 1)]] * 2
    )

    result = race(orders)

    check_outcomes(inventory, result)
    check_reservations(result)
    for sku in (first, second):
        assert product(sku).reserved == reserved_of(result, sku)
        assert product(sku).reserved <= product(sku).on_hand
    sold_out = {sku for sku in (first, second) if product(sku).available == 0}
    for order_id in result.refused:
        asked = {sku for sku, _ in result.orders[order_id]}
        assert asked & sold_out, f"{order_id} was refused though {asked} had stock left"
    assert result.refused, "10 orders for 6 units cannot all be reserved"
