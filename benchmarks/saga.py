"""The order saga, timed: through the bus, or as plain calls of the same services.

Through the bus, `order_place` (the service the API's POST calls) starts it: OrderPlaced ->
inventory reserves -> StockReserved -> payments charges -> PaymentCaptured -> orders confirms ->
OrderConfirmed -> inventory commits the stock. Plain, the shop's five services that the
handlers call run one after the other with publishing switched off, so the baseline is the
services themselves and cannot drift from them: no event, no outbox, no inbox, no relay.

A saga's clock starts before its first call and stops when the commit of a step is seen: a
receiver of Django's `post_save` for the order saved CONFIRMED, and for the reservation saved
COMMITTED (the saga's last write), registers an `on_commit` hook that reads the clock. The same
receivers time both paths and every executor, in the thread that commits, with no polling.

Import after Django is set up.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from django.db import connections, transaction
from django.db.models.signals import post_save

from benchmarks.harness import MODULES
from modules.inventory import services as inventory_services
from modules.inventory.models import Reservation, ReservationStatus
from modules.inventory.services import product_stock, stock_commit, stock_reserve
from modules.orders import services as orders_services
from modules.orders.models import Order, OrderStatus
from modules.orders.services import RequestedLine, order_confirm, order_place
from modules.payments import services as payments_services
from modules.payments.models import PaymentStatus
from modules.payments.services import payment_charge
from modulith.bus import cancel_scheduled, publish
from modulith.database.store.models import Delivery, DeliveryStatus

SKU = "BENCH-SAGA"
CUSTOMER = "bench"
TOKEN = "tok_visa"
QUANTITY = 1
SAGA_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sample:
    """Seconds from a saga's start to: its first call returning, the order CONFIRMED
    committed, the stock committed (the end)."""

    returned: float
    confirmed: float
    ended: float


class SagaClock:
    """Reads the clock when the saga's steps commit; one saga at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = 0.0
        self._confirmed: tuple[float, UUID] | None = None
        self._ended: tuple[float, UUID] | None = None
        self._done = threading.Event()

    def start(self) -> None:
        with self._lock:
            self._confirmed = self._ended = None
            self._done.clear()
            self._started = time.perf_counter()

    def sample(self, order_id: UUID, returned: float) -> Sample:
        if not self._done.wait(SAGA_TIMEOUT):
            raise RuntimeError(f"the saga of order {order_id} did not end in {SAGA_TIMEOUT} s")
        with self._lock:
            if self._confirmed is None or self._ended is None:
                raise RuntimeError(f"the saga of order {order_id} ended unconfirmed")
            (confirmed, confirmed_id), (ended, ended_id) = self._confirmed, self._ended
        if confirmed_id != order_id or ended_id != order_id:
            raise RuntimeError(f"a step of another saga than {order_id}'s committed meanwhile")
        return Sample(returned - self._started, confirmed - self._started, ended - self._started)

    def _mark_confirmed(self, order_id: UUID) -> None:
        with self._lock:
            if self._confirmed is None:
                self._confirmed = (time.perf_counter(), order_id)

    def _mark_ended(self, order_id: UUID) -> None:
        with self._lock:
            if self._ended is None:
                self._ended = (time.perf_counter(), order_id)
                self._done.set()

    def _order_saved(self, sender: Any, instance: Order, using: str, **kwargs: Any) -> None:
        if instance.status == OrderStatus.CONFIRMED:
            order_id = instance.id
            transaction.on_commit(lambda: self._mark_confirmed(order_id), using=using)

    def _reservation_saved(
        self, sender: Any, instance: Reservation, using: str, **kwargs: Any
    ) -> None:
        if instance.status == ReservationStatus.COMMITTED:
            order_id = instance.order_id
            transaction.on_commit(lambda: self._mark_ended(order_id), using=using)

    @contextmanager
    def connected(self) -> Iterator[SagaClock]:
        post_save.connect(self._order_saved, sender=Order, weak=False)
        post_save.connect(self._reservation_saved, sender=Reservation, weak=False)
        try:
            yield self
        finally:
            post_save.disconnect(self._order_saved, sender=Order)
            post_save.disconnect(self._reservation_saved, sender=Reservation)


def stock(quantity: int) -> None:
    """Puts `quantity` units of the saga's product on the shelf (inventory's own service)."""
    product_stock(
        sku=SKU, name="Benchmark", unit_price=Decimal("10.00"), currency="EUR", quantity=quantity
    )


# --- through the bus ----------------------------------------------------------------------


def bus_saga() -> UUID:
    """Places an order with orders' service; the bus carries the rest of the saga."""
    placed = order_place(
        customer_id=CUSTOMER,
        lines=[RequestedLine(sku=SKU, quantity=QUANTITY)],
        payment_token=TOKEN,
    )
    return placed.order.id


def wait_until_relayed(timeout: float = SAGA_TIMEOUT) -> None:
    """Until every delivery of every module's outbox has its outcome recorded (the relay
    records a delivery after its handler's commit, on a delivery thread for `thread`)."""
    deadline = time.monotonic() + timeout
    while any(
        Delivery.objects.using(alias).filter(status=DeliveryStatus.PENDING).exists()
        for alias in MODULES
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"deliveries still pending after {timeout} s")
        time.sleep(0.001)


# --- as plain calls -----------------------------------------------------------------------

# The shop's services, each of which publishes through the `publish` it imported.
PUBLISHING_SERVICES = (orders_services, inventory_services, payments_services)


def plain_saga() -> UUID:
    """The saga's five steps as calls of the shop's own services, one after the other, with
    publishing switched off: what the handlers would call, with what the events would carry."""
    with publishing_off():
        order_id = order_place(
            customer_id=CUSTOMER,
            lines=[RequestedLine(sku=SKU, quantity=QUANTITY)],
            payment_token=TOKEN,
        ).order.id
        if not stock_reserve(order_id=order_id, lines=[(SKU, QUANTITY)]):
            raise RuntimeError(f"{SKU} is out of stock: stock more before the run")
        payment = payment_charge(order_id=order_id)
        if payment is None or payment.status != PaymentStatus.CAPTURED:
            raise RuntimeError(f"the payment of order {order_id} was not captured")
        order_confirm(
            order_id=order_id,
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
        )
        stock_commit(order_id=order_id)
    return order_id


def _not_published(event: Any, **schedule: Any) -> UUID:
    """What a service publishes (now or scheduled), dropped: no outbox row, no delivery, no
    relay."""
    return uuid4()


def _nothing_cancelled(**which: Any) -> int:
    """A scheduled event's cancel, dropped: nothing was scheduled."""
    return 0


@contextmanager
def publishing_off() -> Iterator[None]:
    """The shop's services publish nothing while inside, and cancel nothing scheduled: each
    service module's `publish` (and `cancel_scheduled`) is the framework's, checked, so that a
    service publishing some other way fails the run rather than go on being measured with the
    bus's cost."""
    for module in PUBLISHING_SERVICES:
        if module.publish is not publish:
            raise RuntimeError(f"{module.__name__} does not publish with modulith.bus.publish")
        if getattr(module, "cancel_scheduled", cancel_scheduled) is not cancel_scheduled:
            raise RuntimeError(f"{module.__name__} cancels with another cancel_scheduled")
        module.publish = _not_published  # type: ignore[attr-defined]
        if hasattr(module, "cancel_scheduled"):
            module.cancel_scheduled = _nothing_cancelled  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in PUBLISHING_SERVICES:
            module.publish = publish  # type: ignore[attr-defined]
            if hasattr(module, "cancel_scheduled"):
                module.cancel_scheduled = cancel_scheduled  # type: ignore[attr-defined]


# --- running one ---------------------------------------------------------------------------


def run_one(clock: SagaClock, saga: Callable[[], UUID], *, threaded: bool) -> Sample:
    """One saga, timed; then (untimed) waits until its last deliveries are recorded, so that
    sagas never overlap, and checks that the order ended CONFIRMED."""
    clock.start()
    order_id = saga()
    returned = time.perf_counter()
    sample = clock.sample(order_id, returned)
    if threaded:
        wait_until_relayed()
    status = Order.objects.filter(id=order_id).values_list("status", flat=True).get()
    if status != OrderStatus.CONFIRMED:
        raise RuntimeError(f"order {order_id} ended {status}")
    return sample


def count_statements(
    counter: StatementCounter, clock: SagaClock, saga: Callable[[], UUID], *, threaded: bool
) -> int:
    """The SQL statements of one saga, untimed: from its first call to its last delivery's
    outcome recorded."""
    clock.start()
    with counter.counting():
        order_id = saga()
        clock.sample(order_id, time.perf_counter())
        if threaded:
            wait_until_relayed()
    return counter.count


class StatementCounter:
    """Counts the SQL statements sent through Django's cursors of every database, in every
    thread: SQLite's BEGIN IMMEDIATE and savepoints are among them, COMMIT is not.

    Create it before the threads open their connections: it keeps a (weak) list of every
    connection opened from then on, in any thread, to count on those too."""

    def __init__(self) -> None:
        from django.db.backends.signals import connection_created

        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet(connections.all())
        self.count = 0
        self.active = False
        connection_created.connect(self._connection_created, weak=False)

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if self.active:
            with self._lock:
                self.count += 1
        return execute(sql, params, many, context)

    def _connection_created(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        with self._lock:
            self._connections.add(connection)
            if self.active and self not in connection.execute_wrappers:
                connection.execute_wrappers.append(self)

    @contextmanager
    def counting(self) -> Iterator[StatementCounter]:
        with self._lock:
            every = [*self._connections, *connections.all()]
            for connection in every:
                if self not in connection.execute_wrappers:
                    connection.execute_wrappers.append(self)
            self.count, self.active = 0, True
        try:
            yield self
        finally:
            with self._lock:
                self.active = False
                for connection in [*self._connections, *connections.all()]:
                    if self in connection.execute_wrappers:
                        connection.execute_wrappers.remove(self)
