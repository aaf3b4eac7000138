"""End to end, through nginx, under traffic: a module leaves the monolith and comes back by the
rolling sequence `manage.py extract` prints (and `--back`), each step one rolling deployment
checked first by its readiness command, while customers place orders several times a second
and retry with the same Idempotency-Key whatever gets no answer. Old tasks stop by SIGTERM,
and once in each direction by SIGKILL while an outbox or a queue holds something in flight.
Every order acknowledged ends as its card and the stock say, once; nothing is dead, nothing
is left in a queue.

Over sqs when the databases are SQLite; over sns and eventbridge when they are PostgreSQL (CI's
second phase), each run within about 90 s."""

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from modules.orders.models import Order
from modules.payments.models import Payment
from modulith.database.store.models import Delivery, DeliveryStatus
from modulith.testing import wait_until
from modulith.tooling.rolling.steps import RollingPlan, RollingStep, rolling_plan
from tests.aws.emulator import Emulator, aws_environment
from tests.e2e.conftest import QUICK, TOPOLOGY
from tests.e2e.outage_checks import (
    MODULES,
    SUBSCRIBERS,
    assert_stock_sold_to_confirmed_orders,
    deliveries,
    pending_orders,
    per_order,
    queue_depth,
    sqs,
)
from tests.e2e.rolling import DECLINED, Customers, RollingShop, Stopper, Task
from tests.e2e.shop_api import client, stock
from tests.processes import manage
from tests.system import program

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

# Short timings, so that a SIGKILLed task's claims lapse and its messages come back in seconds.
TIMINGS = {
    **QUICK,
    "MODULITH_CLAIM_SECONDS": "5",
    "MODULITH_RELAY_INTERVAL": "1",
    "MODULITH_ROUTE_PROBE_MAX_SECONDS": "2",
    "MODULITH_BREAKER_RESET_SECONDS": "2",
    "DJANGO_DEBUG": "1",
}
SKUS = {"ROLL-A": 1000, "ROLL-B": 1000, "ROLL-C": 25}  # ROLL-C runs out on the way
SCARCE = "ROLL-C"
KILL_WAIT_SECONDS = 15.0  # a SIGKILL waits at most this for something in flight
SETTLE_SECONDS = 45.0
# Which module each transport's run moves out and back: every module once over the three.
RUNS = {"sqs": "inventory", "sns": "payments", "eventbridge": "orders"}


def require(vendor: str) -> None:
    actual = connections["orders"].vendor
    if actual != vendor:
        pytest.skip(
            f"runs when the databases are {vendor} (these are {actual}): make test runs the "
            "flip over sqs on SQLite, over sns and eventbridge on a PostgreSQL cluster"
        )


@pytest.fixture
def aws(emulator: Emulator) -> dict[str, str]:
    names = f"r{uuid.uuid4().hex[:8]}"
    return {
        **aws_environment(emulator.endpoint),
        "MODULITH_QUEUE_PREFIX": names,
        "MODULITH_EVENT_BUS": names,
        **TIMINGS,
    }


@pytest.fixture
def rolling(
    tmp_path: Path, aws: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[RollingShop]:
    program("nginx", "nginx")  # before anything starts
    shop = RollingShop(TOPOLOGY, RUNS[request.param], tmp_path, aws)
    try:
        yield shop
    finally:
        shop.stop()


@pytest.mark.parametrize("rolling", ["sqs"], indirect=True)
def test_a_rolling_flip_over_sqs_out_and_back_under_traffic_loses_nothing(
    rolling: RollingShop, emulator: Emulator
) -> None:
    require("sqlite")
    flip_out_and_back(rolling, emulator, "sqs")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("rolling", "transport"), [("sns", "sns"), ("eventbridge", "eventbridge")], indirect=["rolling"]
)
def test_a_rolling_flip_out_and_back_under_traffic_loses_nothing_on_postgresql(
    rolling: RollingShop, emulator: Emulator, transport: str
) -> None:
    require("postgresql")
    flip_out_and_back(rolling, emulator, transport)


def flip_out_and_back(shop: RollingShop, emulator: Emulator, transport: str) -> None:
    started = time.monotonic()
    module = shop.module
    urls = {"service_url": shop.service.url, "monolith_url": shop.monolith.url}
    out, back = (
        rolling_plan(TOPOLOGY, module, transport=transport, back=back, **urls)
        for back in (False, True)
    )
    before = back.steps[-1].monolith  # the monolith on the in-process transport
    shop.start(before)
    with client(shop.url) as api:
        for sku, quantity in SKUS.items():
            stock(api, sku, quantity)
    customers = Customers(shop.url, SKUS, SCARCE).start()
    kills: list[str] = []
    waits: dict[str, str] = {}
    rolls: dict[str, float] = {}
    # Once in each direction: the monolith's old task as it stops running the module, and the
    # module's service as it stops.
    stopper = killer(shop, emulator, kill_at={(out.direction, 3), (back.direction, 2)})
    try:
        provisioned = manage("provision", timeout=120, **shop.aws, MODULITH_TRANSPORT=transport)
        assert provisioned.returncode == 0, provisioned.stderr
        current = before
        for plan in (out, back):
            for step in plan.steps:
                waits[f"{plan.direction} {step.number}"] = shop.ready(plan, step.number, current)
                rolled = time.monotonic()
                kills += shop.apply(plan, step, stopper)
                rolls[f"{plan.direction} {step.number}"] = time.monotonic() - rolled
                current = step.monolith
            waits[f"{plan.direction} done"] = shop.ready(plan, "done", current)
    finally:
        customers.finish()
    flipped = time.monotonic() - started

    wait_until(
        lambda: (pending_orders(), deliveries(DeliveryStatus.PENDING)),
        lambda pending: not pending[0] and not any(pending[1].values()),
        awaiting="every order final and every delivery made after the flip (orders still "
        "pending, deliveries pending per module)",
        timeout=SETTLE_SECONDS,
        details=lambda: f"queues: {queues(shop, emulator)}",
    )
    assert len(kills) == 2, kills
    assert sum(p.attempts > 1 for p in customers.placed) > 0, "no request was sent again"
    assert_every_order_ended_as_its_card_and_stock_say(shop, customers)
    assert_nothing_dead_or_left_in_a_queue(shop, emulator)
    acknowledged = customers.acknowledged
    print(
        f"{transport}, {module} out and back: {len(acknowledged)} orders acknowledged of "
        f"{len(customers.placed)} placed ({sum(p.attempts - 1 for p in customers.placed)} "
        f"retries, {sum(p.replayed for p in customers.placed)} replayed) in {flipped:.1f} s; "
        f"readiness waits {', '.join(f'{k} {v}' for k, v in waits.items())}; "
        f"rolls {', '.join(f'{k} {v:.1f} s' for k, v in rolls.items())}; "
        f"SIGKILLs: {'; '.join(kills)}; one-offs: {shop.one_offs}"
    )


def killer(shop: RollingShop, emulator: Emulator, kill_at: set[tuple[str, int]]) -> Stopper:
    """SIGKILL for the old tasks of the steps in `kill_at` (direction, number), as soon as an
    outbox or a queue of theirs holds something in flight; SIGTERM for every other."""

    def stopper(plan: RollingPlan, step: RollingStep, task: Task) -> str | None:
        if (plan.direction, step.number) not in kill_at:
            return None
        held = wait_until(
            lambda: in_flight(shop, emulator, task),
            awaiting=f"something of the {step.rolls} task in flight, to SIGKILL it then",
            timeout=KILL_WAIT_SECONDS,
        )
        return f"SIGKILL of the {step.rolls} task while {held}"

    return stopper


def in_flight(shop: RollingShop, emulator: Emulator, task: Task) -> str:
    client_ = sqs(emulator)
    prefix = shop.aws["MODULITH_QUEUE_PREFIX"]
    for module in task.modules:
        if module in SUBSCRIBERS and task.consumer is not None:
            url = client_.get_queue_url(QueueName=f"{prefix}-{module}")["QueueUrl"]
            attributes = client_.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            if held := int(attributes["ApproximateNumberOfMessagesNotVisible"]):
                return f"{held} message(s) of {module}'s queue were in flight"
        pending = Delivery.objects.using(module).filter(status=DeliveryStatus.PENDING).count()
        if pending:
            return f"{pending} delivery(ies) were pending in {module}'s outbox"
    return ""


def queues(shop: RollingShop, emulator: Emulator) -> dict[str, int]:
    client_ = sqs(emulator)
    prefix = shop.aws["MODULITH_QUEUE_PREFIX"]
    names = [f"{prefix}-{m}" for m in SUBSCRIBERS] + [f"{prefix}-{m}-dlq" for m in SUBSCRIBERS]
    return {name: queue_depth(client_, name) for name in names}


def assert_every_order_ended_as_its_card_and_stock_say(
    shop: RollingShop, customers: Customers
) -> None:
    orders = {str(o.id): o for o in Order.objects.prefetch_related("lines")}
    acknowledged = customers.acknowledged
    assert len(acknowledged) >= 100, f"too few orders got through: {len(acknowledged)}"
    missing = [p.key for p in acknowledged if p.order_id not in orders]
    assert not missing, f"acknowledged orders the shop does not have: {missing}"
    keys = Counter(o.idempotency_key for o in orders.values())
    assert set(keys) <= {p.key for p in customers.placed}
    assert max(keys.values()) == 1  # none stored twice
    paid = Counter(str(order_id) for order_id in Payment.objects.values_list("order_id", flat=True))
    assert max(paid.values()) == 1, "an order was paid twice"
    by_key = {p.key: p for p in customers.placed}
    for order_id, order in orders.items():
        asked = by_key[str(order.idempotency_key)]
        reason = (order.status, order.cancellation_reason)
        scarce = any(line.sku == SCARCE for line in order.lines.all())
        if asked.token == DECLINED:
            expected = {("CANCELLED", "PAYMENT_DECLINED")}
        else:
            expected = {("CONFIRMED", "")}
        if scarce:
            expected.add(("CANCELLED", "OUT_OF_STOCK"))
        assert reason in expected, f"order {order_id} ({asked}) ended {reason}"
        charged = reason != ("CANCELLED", "OUT_OF_STOCK")
        assert paid.get(order_id, 0) == int(charged), f"order {order_id} paid {paid.get(order_id)}"
    with client(shop.url) as api:
        assert_stock_sold_to_confirmed_orders(api, orders.values(), SKUS)
    every = dict.fromkeys(orders, 1)
    assert per_order("orders", "OrderPlaced") == every
    assert per_order("inventory", "StockReserved", "StockReservationFailed") == every
    assert per_order("orders", "OrderConfirmed", "OrderCancelled") == every


def assert_nothing_dead_or_left_in_a_queue(shop: RollingShop, emulator: Emulator) -> None:
    dead = deliveries(DeliveryStatus.DEAD)
    assert dead == dict.fromkeys(MODULES, 0), f"dead deliveries: {dead}"
    left = queues(shop, emulator)
    assert left == dict.fromkeys(left, 0), f"messages left in queues: {left}"
