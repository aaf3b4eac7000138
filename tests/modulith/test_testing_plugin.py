"""modulith.testing: a scenario runs some modules with the others absent, captures what they
publish, feeds them events as foreign modules would, and waits for what those cause."""

import os
import re
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.db import transaction

from contracts.inventory import (
    InventoryQueries,
    ReservedLine,
    StockReservationFailed,
    StockReserved,
)
from contracts.orders import OrderQueries, PaymentRequest
from contracts.payments import PaymentCaptured, PaymentFailed
from modules.inventory.models import Reservation
from modules.inventory.services import product_stock, stock_reserve
from modulith.bus import publish
from modulith.database.store.models import Delivery, InboxRecord, OutboxEvent
from modulith.modules.errors import ConfigurationError
from modulith.runtime import runtime
from modulith.testing.delivery import DeliveryFailed
from modulith.testing.scenario import Scenario, ScenarioFactory
from tests.events import order_placed, payment_captured
from tests.providers import Catalogue, PendingOrders

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EVERY_MODULE = ("orders", "inventory", "payments")


def stocked(sku: str, quantity: int) -> str:
    product_stock(sku=sku, name=sku, unit_price=Decimal("10.00"), currency="EUR", quantity=quantity)
    return sku


class WatchedOrders(PendingOrders):
    """Pending orders that note the thread each question is asked on, and can hold the
    answer back (a gate) or fail."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.failure: Exception | None = None

    def payment_request(self, order_id: UUID) -> PaymentRequest | None:
        self.threads.append(threading.current_thread().name)
        assert self.gate.wait(timeout=10), "the test never opened the gate"
        if self.failure is not None:
            raise self.failure
        return super().payment_request(order_id)


@pytest.fixture
def inventory(module_scenario: ScenarioFactory) -> Scenario:
    return module_scenario("inventory")


@pytest.fixture
def orders() -> WatchedOrders:
    return WatchedOrders()


@pytest.fixture(params=["inline", "thread"])
def executor(request: pytest.FixtureRequest, settings: Any) -> str:
    """Deliveries run in the committing thread, or on the delivery threads (the default)."""
    settings.MODULITH_ASYNC_HANDLERS = request.param
    return str(request.param)


@pytest.fixture
def inventory_and_payments(
    executor: str, module_scenario: ScenarioFactory, orders: WatchedOrders
) -> Scenario:
    """inventory's StockReserved goes on to payments: a cascade inside the scenario."""
    return module_scenario("inventory", "payments", providers={OrderQueries: orders})


# Capturing what the modules publish.


def test_published_gives_the_committed_events_of_a_type_as_contract_instances(
    inventory: Scenario,
) -> None:
    order_id = uuid4()
    stock_reserve(order_id=order_id, lines=[(stocked("KB-1", 5), 2)])
    stock_reserve(order_id=uuid4(), lines=[("KB-1", 9)])

    assert inventory.published(StockReserved) == [
        StockReserved(order_id=order_id, items=[ReservedLine(sku="KB-1", quantity=2)])
    ]
    assert [type(event) for event in inventory.published()] == [
        StockReserved,
        StockReservationFailed,
    ]


def test_a_publication_rolled_back_was_not_published(inventory: Scenario) -> None:
    def publish_then_fail() -> None:
        with transaction.atomic(using="inventory"):
            publish(StockReserved(order_id=uuid4(), items=[]))
            raise RuntimeError("the writes it describes failed")

    with pytest.raises(RuntimeError):
        publish_then_fail()

    assert inventory.published() == []


def test_what_was_published_before_the_scenario_started_is_not_its(
    module_scenario: ScenarioFactory,
) -> None:
    stock_reserve(order_id=uuid4(), lines=[(stocked("KB-1", 5), 1)])  # every module runs here

    inventory = module_scenario("inventory")

    assert inventory.published() == []


# Feeding an event as a foreign module would.


def test_a_delivered_event_is_handled_through_the_inbox_and_its_events_awaited(
    inventory: Scenario,
) -> None:
    event = order_placed((stocked("KB-1", 5), 2))

    delivered = inventory.deliver(event)
    reserved = delivered.and_wait_for(StockReserved)

    assert reserved == StockReserved(
        order_id=event.order_id, items=[ReservedLine(sku="KB-1", quantity=2)]
    )
    assert Reservation.objects.get(order_id=event.order_id).quantity == 2
    inbox = InboxRecord.objects.using("inventory").get(event_id=delivered.event_id)
    assert (inbox.subscriber, inbox.event_name) == ("inventory", "OrderPlaced")


def test_the_same_event_delivered_again_has_no_second_effect(inventory: Scenario) -> None:
    event = order_placed((stocked("KB-1", 5), 2))

    inventory.deliver(event).again()

    assert Reservation.objects.filter(order_id=event.order_id).count() == 1
    assert len(inventory.published(StockReserved)) == 1


def test_a_wait_matches_the_event_it_is_given(inventory: Scenario) -> None:
    first, second = order_placed((stocked("KB-1", 5), 1)), order_placed(("KB-1", 1))
    inventory.deliver(first)

    reserved = inventory.deliver(second).and_wait_for(
        StockReserved, matching=lambda e: e.order_id == second.order_id
    )

    assert reserved.order_id == second.order_id
    assert inventory.wait_for(StockReserved).order_id == first.order_id  # since the start


def test_a_handler_failing_on_a_delivered_event_fails_the_delivery(
    module_scenario: ScenarioFactory,
) -> None:
    orders = module_scenario("orders", providers={InventoryQueries: Catalogue()})
    unknown = uuid4()

    with pytest.raises(DeliveryFailed) as failed:
        orders.deliver(payment_captured(unknown))

    assert re.fullmatch(
        rf"orders failed on PaymentCaptured [0-9a-f-]{{36}}: "
        rf"LookupError: order {unknown} does not exist",
        str(failed.value),
    ), failed.value


# Waiting for cascades, on the delivery threads or inline.


def test_a_wait_follows_a_cascade_to_the_end(
    executor: str, inventory_and_payments: Scenario, orders: WatchedOrders
) -> None:
    order_id = orders.add(amount="20.00")
    event = order_placed((stocked("KB-1", 5), 2), order_id=order_id)

    captured = inventory_and_payments.deliver(event).and_wait_for(PaymentCaptured)

    assert (captured.order_id, captured.amount) == (order_id, Decimal("20.00"))
    delivery_thread = "modulith-deliver" if executor == "thread" else "MainThread"
    assert [thread.split("_")[0] for thread in orders.threads] == [delivery_thread]


def test_published_waits_for_the_delivery_threads(
    executor: str, inventory_and_payments: Scenario, orders: WatchedOrders
) -> None:
    order_id = orders.add(token="tok_chargeDeclined")

    inventory_and_payments.deliver(order_placed((stocked("KB-1", 5), 1), order_id=order_id))

    assert [e.order_id for e in inventory_and_payments.published(PaymentFailed)] == [order_id]


def test_a_wait_that_times_out_lists_what_is_in_flight_and_what_was_published(
    settings: Any, inventory_and_payments: Scenario, orders: WatchedOrders
) -> None:
    settings.MODULITH_ASYNC_HANDLERS = "thread"
    orders.gate.clear()  # payments' question to orders hangs on a delivery thread
    event = order_placed((stocked("KB-1", 5), 1), order_id=orders.add())
    delivered = inventory_and_payments.deliver(event)

    try:
        with pytest.raises(AssertionError) as waited:
            delivered.and_wait_for(PaymentCaptured, timeout=0.3)
    finally:
        orders.gate.set()

    reserved = StockReserved(order_id=event.order_id, items=[ReservedLine(sku="KB-1", quantity=1)])
    assert str(waited.value) == (
        "no PaymentCaptured was published within 0.3 s after OrderPlaced was delivered to "
        "inventory; still in flight: StockReserved to payments.\n"
        "Published instead:\n"
        f"  StockReserved {reserved.model_dump_json(by_alias=True)}"
    )


def test_a_wait_ends_at_once_when_nothing_in_flight_could_publish_the_event(
    inventory: Scenario,
) -> None:
    event = order_placed(("NOPE", 1))

    with pytest.raises(AssertionError) as waited:
        inventory.deliver(event).and_wait_for(StockReserved, timeout=60)

    failed = StockReservationFailed(
        order_id=event.order_id, reason="OUT_OF_STOCK", missing_skus=["NOPE"]
    )
    assert str(waited.value) == (
        "no StockReserved was published after OrderPlaced was delivered to inventory, "
        "and nothing left in flight could publish one.\n"
        "Published instead:\n"
        f"  StockReservationFailed {failed.model_dump_json(by_alias=True)}"
    )


def test_a_failed_wait_names_the_deliveries_that_failed(
    executor: str, inventory_and_payments: Scenario, orders: WatchedOrders
) -> None:
    orders.failure = RuntimeError("the orders table is on fire")

    with pytest.raises(AssertionError) as waited:
        inventory_and_payments.deliver(order_placed((stocked("KB-1", 5), 1))).and_wait_for(
            PaymentCaptured, matching=lambda e: e.amount > 0
        )

    message = str(waited.value)
    assert message.startswith("no PaymentCaptured matching <lambda> was published after")
    assert re.search(
        r"Failed deliveries:\n  payments failed on StockReserved [0-9a-f-]{36}: "
        r"RuntimeError: the orders table is on fire$",
        message,
    ), message


def test_nothing_published_is_said_so(inventory: Scenario) -> None:
    with pytest.raises(AssertionError, match=r"in this scenario, .*\nNothing was published\.$"):
        inventory.wait_for(StockReserved, timeout=60)
    assert inventory.published() == []


# The other modules are absent.


def test_the_absent_modules_handlers_never_run_and_their_databases_are_untouched(
    inventory: Scenario,
) -> None:
    event = order_placed((stocked("KB-1", 5), 1))

    inventory.deliver(event).and_wait_for(StockReserved)

    for absent in ("orders", "payments"):
        assert not OutboxEvent.objects.using(absent).exists()
        assert not InboxRecord.objects.using(absent).exists()
    assert not Delivery.objects.using("inventory").exists()  # StockReserved goes nowhere
    assert runtime().topology.running == {"inventory"}


def test_a_port_of_an_absent_module_is_answered_by_the_provider_given(
    module_scenario: ScenarioFactory,
) -> None:
    catalogue = Catalogue()
    catalogue.add("KB-1", price="12.50")

    module_scenario("orders", providers={InventoryQueries: catalogue})

    [price] = runtime().ports.resolve(InventoryQueries).prices(["KB-1", "NOPE"])
    assert price.unit_price == Decimal("12.50")


@pytest.mark.parametrize(
    ("modules", "providers", "message"),
    [
        (
            ("orders",),
            {},
            "orders uses InventoryQueries, provided by inventory, which is absent from this "
            "scenario: give it a provider of its own, e.g. "
            "module_scenario('orders', providers={InventoryQueries: ...})",
        ),
        (
            ("orders", "inventory"),
            {InventoryQueries: Catalogue()},
            "InventoryQueries is provided by inventory, which runs in this scenario",
        ),
        (
            ("inventory",),
            {OrderQueries: PendingOrders()},
            "no module of this scenario uses OrderQueries: leave it out of providers",
        ),
        (
            ("orders",),
            {InventoryQueries: object()},
            "object does not implement InventoryQueries: it has no prices",
        ),
        (("shipping",), {}, "no module is named 'shipping'; the modules are orders, inventory"),
        ((), {}, "name the modules of the scenario, of orders, inventory, payments"),
    ],
)
def test_a_scenario_that_cannot_run_is_refused_in_one_line(
    module_scenario: ScenarioFactory,
    modules: tuple[str, ...],
    providers: dict[type[Any], object],
    message: str,
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        module_scenario(*modules, providers=providers)

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert runtime().topology.running == set(EVERY_MODULE)


def test_an_event_of_an_absent_module_is_not_in_the_scenario(inventory: Scenario) -> None:
    with pytest.raises(ConfigurationError, match="PaymentCaptured is published by payments"):
        inventory.published(PaymentCaptured)
    with pytest.raises(ConfigurationError, match=r"no module of this scenario \(inventory\)"):
        inventory.deliver(StockReserved(order_id=uuid4(), items=[]))


# The scenario's life.


def test_a_setting_changed_mid_scenario_keeps_the_scenario(
    inventory: Scenario, settings: Any
) -> None:
    settings.MODULITH_ASYNC_HANDLERS = "thread"

    assert runtime().topology.running == {"inventory"}
    inventory.deliver(order_placed((stocked("KB-1", 5), 1))).and_wait_for(StockReserved)


def test_one_scenario_runs_at_a_time_and_stopping_it_gives_every_module_back(
    module_scenario: ScenarioFactory,
) -> None:
    inventory = module_scenario("inventory")
    with pytest.raises(ConfigurationError, match="a scenario of inventory is running: stop it"):
        module_scenario("payments", providers={OrderQueries: PendingOrders()})

    inventory.stop()

    assert runtime().topology.running == set(EVERY_MODULE)


def test_a_scenario_is_also_a_context_manager() -> None:
    with Scenario.start(["inventory"]) as inventory:
        stock_reserve(order_id=uuid4(), lines=[(stocked("KB-1", 5), 1)])
        assert [type(event) for event in inventory.published()] == [StockReserved]

    assert runtime().topology.running == set(EVERY_MODULE)


# The plugin, as a project enables it.

ROOT = Path(__file__).resolve().parents[2]

A_TEST_WITHOUT_ITS_DATABASE = """
import pytest


def test_no_database(module_scenario):
    module_scenario("inventory")


@pytest.mark.django_db(databases=["inventory"])
def test_no_transactions_of_its_own(module_scenario):
    module_scenario("inventory")


@pytest.mark.django_db(transaction=True)
def test_another_database(module_scenario):
    module_scenario("inventory")
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytest run of its own on this project's code, on SQLite files of its own (not this
    run's test databases)."""
    for name in list(os.environ):
        if name.startswith(("MODULITH_", "PYTEST_")) or name.endswith("DATABASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "platform")]))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings")
    monkeypatch.setenv("MODULITH_VAR_DIR", str(pytester.path / "var"))
    return pytester


@pytest.mark.slow
def test_a_project_enables_the_plugin_and_a_test_without_its_database_is_told_how(
    project: pytest.Pytester,
) -> None:
    """Enabled twice, by conftest and on the command line, it is one plugin."""
    project.makeconftest('pytest_plugins = ["modulith.testing"]')
    project.makepyfile(test_scenario=A_TEST_WITHOUT_ITS_DATABASE)

    # -rN: no short summary, whose lines are cut to the terminal's width except on CI.
    result = project.runpytest_subprocess("-p", "modulith.testing", "-p", "no:cacheprovider", "-rN")

    result.assert_outcomes(failed=3)
    hint = (
        "module_scenario('inventory') needs transactions of its own in its modules' databases "
        "(deliveries run after commit): mark the test "
        "@pytest.mark.django_db(transaction=True, databases=['inventory'])"
    )
    assert result.stdout.str().count(hint) == 3
    assert "Traceback" not in result.stdout.str()


@pytest.mark.slow
def test_the_documented_example_passes(project: pytest.Pytester) -> None:
    """docs/testing.md's complete example, as a project's test file."""
    guide = (ROOT / "docs" / "testing.md").read_text()
    example = guide.split("## A complete example", 1)[1].split("```python\n", 1)[1].split("```")[0]
    project.makepyfile(test_inventory=example)

    result = project.runpytest_subprocess("-p", "modulith.testing", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)
