"""End to end, through nginx: outages of a minute, and a soak under kills, delay orders and
lose none, dead-letter none, double none.

The split runs with short timings (QUICK, and route probes at most 2 s apart); the emulator is
reached either directly or through a FaultProxy that can refuse every connection. Each test
stops what it started, by PID (see conftest.py)."""

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from modules.orders.models import Order
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.testing import wait_until
from tests.aws.emulator import Emulator
from tests.aws.fault_proxy import FaultProxy
from tests.e2e.conftest import START_TIMEOUT, Shop
from tests.e2e.outage_checks import (
    assert_stock_sold_to_confirmed_orders,
    dead_letter_gauges,
    dead_letter_queues,
    deliveries,
    gauge,
    handled,
    messages_containing,
    payments_per_order,
    pending_orders,
    per_order,
    published,
    queue_depth,
    route_lines,
    sqs,
)
from tests.e2e.shop_api import client, order, payments, place, placed, product, stock

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

TIMINGS = {
    "MODULITH_ROUTE_PROBE_MAX_SECONDS": "2",  # a route that is down is probed every 2 s or less
    "MODULITH_BREAKER_RESET_SECONDS": "2",  # an open circuit to a provider lets a trial by then
}
OUTAGE_SECONDS = 60.0
RECOVERY_SECONDS = 90.0  # from the end of an outage until every order is final
DECLINED = "tok_chargeDeclined"

# Placed while something is down: three paid, two declined, one for more than there is.
OUTAGE_ORDERS: list[tuple[str, tuple[str, int], str | None]] = [
    ("paid 1", ("KB-1", 1), None),
    ("declined 1", ("KB-1", 1), DECLINED),
    ("out of stock", ("LAMP", 2), None),
    ("paid 2", ("KB-1", 2), None),
    ("declined 2", ("KB-1", 1), DECLINED),
    ("paid 3", ("KB-1", 1), None),
]
OUTAGE_OUTCOME = {
    "paid 1": ("CONFIRMED", None, ["CAPTURED"]),
    "declined 1": ("CANCELLED", "PAYMENT_DECLINED", ["DECLINED"]),
    "out of stock": ("CANCELLED", "OUT_OF_STOCK", []),
    "paid 2": ("CONFIRMED", None, ["CAPTURED"]),
    "declined 2": ("CANCELLED", "PAYMENT_DECLINED", ["DECLINED"]),
    "paid 3": ("CONFIRMED", None, ["CAPTURED"]),
}
OUTAGE_STOCK = {"KB-1": (10, 6), "LAMP": (1, 1)}  # sku: (stocked, on hand at the end)
OUTAGE_PUBLISHED = {
    # Each order's payment deadline too, cancelled once the order was final.
    "orders": {
        "OrderPlaced": 6,
        "PaymentDeadlinePassed": 6,
        "OrderConfirmed": 3,
        "OrderCancelled": 3,
    },
    "inventory": {"StockReserved": 5, "StockReservationFailed": 1, "StockReleased": 2},
    "payments": {"PaymentCaptured": 3, "PaymentFailed": 2},
}
OUTAGE_HANDLED = {
    "orders": {"StockReservationFailed": 1, "PaymentCaptured": 3, "PaymentFailed": 2},
    "inventory": {"OrderPlaced": 6, "OrderConfirmed": 3, "OrderCancelled": 3, "PaymentFailed": 2},
    "payments": {"StockReserved": 5},
}


@pytest.fixture
def proxy(emulator: Emulator) -> Iterator[FaultProxy]:
    """A FaultProxy in front of the emulator; the split talks to it when a test asks for it."""
    with FaultProxy(emulator.endpoint) as running:
        yield running


@pytest.fixture
def split_overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    overrides = dict(TIMINGS)
    if "proxy" in request.fixturenames:
        overrides["AWS_ENDPOINT_URL"] = request.getfixturevalue("proxy").endpoint
    return overrides


@pytest.mark.parametrize("shop", ["eventbridge", "sqs"], indirect=True)
def test_an_emulator_outage_of_a_minute_delays_orders_and_kills_none(
    proxy: FaultProxy, shop: Shop, emulator: Emulator
) -> None:
    api = shop.api()
    stock_up(api, OUTAGE_STOCK)
    # Where orders' events go: the bus, or inventory's queue (the only subscriber of OrderPlaced).
    route = shop.aws["MODULITH_EVENT_BUS"] if shop.kind == "eventbridge" else "inventory"
    orders_service = shop.services["orders"].url

    proxy.refuse_connections()
    down_at = time.monotonic()
    try:
        placed_orders: dict[str, str] = {}
        for name, line, token in OUTAGE_ORDERS:  # spread over the first half of the outage
            placed_orders[name] = placed(api, line, token=token)
            time.sleep(4)  # the customers' pace during the outage, not a wait for anything
        wait_until(
            lambda: gauge(orders_service, "modulith_route_down", route=route),
            lambda down: down == 1,
            awaiting="orders' relay to report its route down",
            timeout=10,
        )
        assert {order(api, o)["status"] for o in placed_orders.values()} == {"PENDING"}
        # The outbox is the buffer: the service stays ready to take orders.
        assert httpx.get(f"{orders_service}/health/ready", timeout=5).status_code == 200
        waiting = attempts("orders", "OrderPlaced", DeliveryStatus.PENDING)
        # One delivery an order (OrderPlaced has one route), none attempted yet.
        assert waiting == [0] * len(OUTAGE_ORDERS), (
            f"an outage must leave the deliveries' attempts untouched: {waiting}"
        )
        # The fault: the outage lasts its full minute.
        time.sleep(max(0.0, down_at + OUTAGE_SECONDS - time.monotonic()))
    finally:
        proxy.accept_connections()
    back_at = time.monotonic()

    wait_until(
        pending_orders,
        lambda pending: not pending,
        awaiting="every order placed during the outage to be final",
        timeout=RECOVERY_SECONDS,
    )
    final_after = time.monotonic() - back_at
    assert_ended(api, placed_orders, OUTAGE_OUTCOME, OUTAGE_STOCK)
    assert_nothing_dead_or_doubled(shop, emulator, OUTAGE_PUBLISHED, OUTAGE_HANDLED)
    assert gauge(orders_service, "modulith_route_down", route=route) == 0
    # The minute of outage cost no attempt: each OrderPlaced went out on its first.
    assert attempts("orders", "OrderPlaced") == [1] * len(OUTAGE_ORDERS)

    lines = route_lines(shop)
    assert lines.get((shop.services["orders"].log.name, route)) == (1, 1), lines
    assert all(counts == (1, 1) for counts in lines.values()), (
        f"one 'route down' and one 'route back' line per process and route: {lines}"
    )
    print(f"{shop.kind}: every order final {final_after:.1f} s after a {OUTAGE_SECONDS} s outage")
    api.close()


@pytest.mark.parametrize("shop", ["sqs"], indirect=True)
def test_orders_stopped_for_a_minute_while_orders_wait_for_payment_loses_none(
    shop: Shop, emulator: Emulator
) -> None:
    api = shop.api()
    stock_up(api, OUTAGE_STOCK)
    # Inventory's consumer waits while the orders are placed, so that none reaches payments
    # before orders' service is down.
    assert shop.consumers["inventory"].stop() == 0
    placed_orders = {name: placed(api, line, token=token) for name, line, token in OUTAGE_ORDERS}
    inventory_queue = f"{shop.aws['MODULITH_QUEUE_PREFIX']}-inventory"
    emulated = sqs(emulator)
    wait_until(
        lambda: queue_depth(emulated, inventory_queue),
        lambda depth: depth == len(placed_orders),
        awaiting=f"the {len(placed_orders)} OrderPlaced events on inventory's queue",
        timeout=15,
    )

    shop.services["orders"].kill()  # payments' OrderQueries calls are refused from now on
    payments_log = shop.consumers["payments"].log
    shop.restart_consumer("inventory")
    wait_until(
        lambda: messages_containing(payments_log, "paused its queue"),
        awaiting="payments to pause its queue with orders down",
        timeout=30,
    )
    paused_at = time.monotonic()
    # The fault: orders stays down a minute; halfway through, nothing was charged or lost.
    time.sleep(OUTAGE_SECONDS / 2)
    assert payments_per_order() == {}
    queues = dead_letter_queues(shop, emulator)
    assert queues == dict.fromkeys(queues, 0), f"messages in dead-letter queues: {queues}"
    time.sleep(max(0.0, paused_at + OUTAGE_SECONDS - time.monotonic()))
    shop.services["orders"].start(timeout=START_TIMEOUT)  # on the same port
    back_at = time.monotonic()

    wait_until(
        pending_orders,
        lambda pending: not pending,
        awaiting="every order to be final after orders came back",
        timeout=RECOVERY_SECONDS,
    )
    final_after = time.monotonic() - back_at
    assert_ended(api, placed_orders, OUTAGE_OUTCOME, OUTAGE_STOCK)
    assert_nothing_dead_or_doubled(shop, emulator, OUTAGE_PUBLISHED, OUTAGE_HANDLED)
    paused = messages_containing(payments_log, "paused its queue")
    resumed = messages_containing(payments_log, "resumed its queue")
    assert (len(paused), len(resumed)) == (1, 1), (paused, resumed)
    assert "ProviderUnavailable" in paused[0], paused
    print(f"every order final {final_after:.1f} s after orders came back; {resumed[0]}")
    api.close()


# The soak ----------------------------------------------------------------------------------
SOAK_PLACING_SECONDS = 45.0
SOAK_SETTLING_SECONDS = 35.0  # with the start-up (5 to 10 s), within 90 s
SOAK_STOCK = {"SOAK-A": 500, "SOAK-B": 500, "SOAK-C": 40}  # SOAK-C runs out
KILL_EVERY_SECONDS = (1.5, 3.0)
DOWN_SECONDS = (0.0, 2.5)  # how long a killed process stays down before it starts again


@dataclass
class Soak:
    """What the placing threads and the killer did."""

    answers: list[int] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, status: int) -> None:
        with self.lock:
            self.answers.append(status)


@pytest.mark.parametrize("shop", ["sqs"], indirect=True)
def test_a_soak_under_kills_loses_nothing_and_doubles_nothing(
    shop: Shop, emulator: Emulator
) -> None:
    started = time.monotonic()
    stop_placing_at = started + SOAK_PLACING_SECONDS
    with shop.api() as api:
        for sku, quantity in SOAK_STOCK.items():
            stock(api, sku, quantity)
    soak = Soak()
    rng = random.Random(20240601)
    with ThreadPoolExecutor(max_workers=3) as pool:
        placing = [
            pool.submit(place_until, shop.url, stop_placing_at, random.Random(seed), soak)
            for seed in range(3)
        ]
        kill_until(shop, stop_placing_at, rng, soak)
        for placer in placing:
            placer.result()

    wait_until(
        lambda: (pending_orders(), deliveries(DeliveryStatus.PENDING)),
        lambda pending: not pending[0] and not any(pending[1].values()),
        awaiting="every order final and every delivery made after the soak (orders still "
        "pending, deliveries pending per module)",
        timeout=max(1.0, started + SOAK_PLACING_SECONDS + SOAK_SETTLING_SECONDS - time.monotonic()),
        details=lambda: f"kills: {soak.kills}",
    )
    elapsed = time.monotonic() - started
    created = Counter(soak.answers)
    assert created.get(201, 0) >= 30, f"too few orders got through: {created}"
    assert len(soak.kills) >= len(shop.services) + len(shop.consumers), soak.kills

    orders = {str(o.id): o for o in Order.objects.prefetch_related("lines")}
    with shop.api() as api:
        assert_stock_sold_to_confirmed_orders(api, orders.values(), SOAK_STOCK)

    reasons = {oid: (o.status, o.cancellation_reason) for oid, o in orders.items()}
    out_of_stock = {oid for oid, r in reasons.items() if r == ("CANCELLED", "OUT_OF_STOCK")}
    charged = set(orders) - out_of_stock
    assert per_order("orders", "OrderPlaced") == dict.fromkeys(orders, 1)
    assert per_order("inventory", "StockReserved", "StockReservationFailed") == dict.fromkeys(
        orders, 1
    )
    assert payments_per_order() == dict.fromkeys(charged, 1)
    assert per_order("payments", "PaymentCaptured", "PaymentFailed") == dict.fromkeys(charged, 1)
    assert per_order("orders", "OrderConfirmed", "OrderCancelled") == dict.fromkeys(orders, 1)
    declined = {oid for oid, r in reasons.items() if r == ("CANCELLED", "PAYMENT_DECLINED")}
    assert per_order("inventory", "StockReleased") == dict.fromkeys(declined, 1)
    confirmed = {oid for oid, r in reasons.items() if r[0] == "CONFIRMED"}
    assert charged == confirmed | declined, reasons
    assert handled("inventory")["OrderPlaced"] == len(orders)
    assert handled("payments")["StockReserved"] == len(charged)
    outcomes = handled("orders")
    assert sum(outcomes.values()) == len(orders), outcomes  # one outcome of each order's saga
    assert_no_dead_letter(shop, emulator)
    print(
        f"soak: {len(orders)} orders ({len(confirmed)} confirmed, {len(declined)} declined, "
        f"{len(out_of_stock)} out of stock), answers {created}, {len(soak.kills)} kills "
        f"({', '.join(soak.kills)}), settled {elapsed:.1f} s after the soak began"
    )


def place_until(url: str, until: float, rng: random.Random, soak: Soak) -> None:
    """Places orders, one at a time, until `until`; any answer is fine (a process may be down):
    the orders database, not the answers, says which orders exist."""
    with client(url) as api:
        while time.monotonic() < until:
            lines = [(rng.choice(list(SOAK_STOCK)), rng.randint(1, 3))]
            if rng.random() < 0.2:
                lines.append(("SOAK-C", 1))
            token = DECLINED if rng.random() < 0.2 else None
            try:
                soak.answered(place(api, *lines, token=token, customer="soak").status_code)
            except httpx.TransportError:
                soak.answered(0)
            time.sleep(rng.uniform(0.1, 0.4))  # the customer's pace: the load, not a wait


def kill_until(shop: Shop, until: float, rng: random.Random, soak: Soak) -> None:
    """Every few seconds, SIGKILLs a service or a consumer of the split and, after a moment
    down, starts it again, until `until`; every process runs when it returns. The victims come
    in random rounds: each process is killed once before any is killed again."""
    victims: list[tuple[str, str]] = [
        *((name, "service") for name in shop.services),
        *((name, "consumer") for name in shop.consumers),
    ]
    round_: list[tuple[str, str]] = []
    while time.monotonic() < until:
        # The faults' pace and length (how long a victim stays down): the faults themselves.
        time.sleep(min(rng.uniform(*KILL_EVERY_SECONDS), max(0.0, until - time.monotonic())))
        if time.monotonic() >= until:
            break
        if not round_:
            round_ = rng.sample(victims, len(victims))
        name, kind = round_.pop()
        down = rng.uniform(*DOWN_SECONDS)
        soak.kills.append(f"{name} {kind} down {down:.1f} s")
        if kind == "service":
            shop.services[name].kill()
            time.sleep(down)  # the fault: it stays down this long
            shop.services[name].start(timeout=START_TIMEOUT)  # on the same port
        else:
            shop.consumers[name].kill()
            time.sleep(down)  # the fault: it stays down this long
            shop.restart_consumer(name)


# Shared checks -----------------------------------------------------------------------------
def stock_up(api: httpx.Client, skus: dict[str, tuple[int, int]]) -> None:
    for sku, (stocked, _) in skus.items():
        stock(api, sku, stocked)


def attempts(module: str, event_name: str, *statuses: str) -> list[int]:
    """The attempts of each of the module's deliveries of these events (in these statuses)."""
    chosen = Delivery.objects.using(module).filter(event__event_name=event_name)
    if statuses:
        chosen = chosen.filter(status__in=statuses)
    return list(chosen.values_list("attempts", flat=True))


def assert_ended(
    api: httpx.Client,
    placed_orders: dict[str, str],
    outcome: dict[str, tuple[str, str | None, list[str]]],
    skus: dict[str, tuple[int, int]],
) -> None:
    ended = {}
    for name, order_id in placed_orders.items():
        body = order(api, order_id)
        ended[name] = (
            body["status"],
            body["cancellationReason"],
            [p["status"] for p in payments(api, order_id)],
        )
    assert ended == outcome
    wait_until(
        lambda: {sku: product(api, sku)["reserved"] for sku in skus},
        lambda reserved: not any(reserved.values()),
        awaiting="no reservation left pending",
        timeout=30,
    )
    assert {sku: product(api, sku)["onHand"] for sku in skus} == {
        sku: on_hand for sku, (_, on_hand) in skus.items()
    }


def assert_nothing_dead_or_doubled(
    shop: Shop,
    emulator: Emulator,
    expected_published: dict[str, dict[str, int]],
    expected_handled: dict[str, dict[str, int]],
) -> None:
    """Every delivery delivered, no dead letter anywhere, each event published and handled
    once."""
    wait_until(
        lambda: deliveries(DeliveryStatus.PENDING),
        lambda pending: not any(pending.values()),
        awaiting="every delivery made (deliveries pending per module)",
        timeout=30,
    )
    assert_no_dead_letter(shop, emulator)
    for module, counts in expected_published.items():
        assert published(module) == counts, module
    for module, counts in expected_handled.items():
        assert handled(module) == counts, module


def assert_no_dead_letter(shop: Shop, emulator: Emulator) -> None:
    """None in an outbox (as the databases and the services' gauges say), none in a queue."""
    dead = deliveries(DeliveryStatus.DEAD)
    assert dead == dict.fromkeys(dead, 0), f"dead deliveries: {dead}"
    gauges = dead_letter_gauges(shop)
    assert gauges == dict.fromkeys(gauges, 0.0), f"modulith_dead_letters: {gauges}"
    queues = dead_letter_queues(shop, emulator)
    assert queues == dict.fromkeys(queues, 0), f"messages in dead-letter queues: {queues}"
