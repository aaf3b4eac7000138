"""The topology computed from every module's manifest, whichever modules run here."""

import pytest

from contracts.inventory import InventoryQueries
from contracts.orders import OrderQueries
from modulith import ConfigurationError, Module
from modulith.modules import Topology
from modulith.outbox.retry import RetryPolicy

MANIFESTS = [
    "modules.orders.module.manifest",
    "modules.inventory.module.manifest",
    "modules.payments.module.manifest",
]


def test_subscribers_and_publishers_come_from_the_manifests() -> None:
    topology = Topology.load(MANIFESTS, None)

    assert topology.publisher_of("OrderPlaced").name == "orders"
    assert [m.name for m in topology.subscribers_of("OrderPlaced")] == ["inventory"]
    assert [m.name for m in topology.subscribers_of("PaymentFailed")] == ["orders", "inventory"]
    assert topology.subscribers_of("StockReleased") == ()
    assert topology.provider_of(InventoryQueries)[0].name == "inventory"
    assert topology.provider_of(OrderQueries)[0].name == "orders"


def test_the_whole_topology_is_known_when_only_one_module_runs() -> None:
    topology = Topology.load(MANIFESTS, ["payments"])

    assert [m.name for m in topology.running_modules] == ["payments"]
    assert [m.name for m in topology.subscribers_of("OrderPlaced")] == ["inventory"]
    assert not topology.is_running("inventory")


def test_an_unknown_module_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown module.*shipping.*known modules are"):
        Topology.load(MANIFESTS, ["orders", "shipping"])


def test_an_event_with_two_publishers_is_a_configuration_error() -> None:
    orders = Topology.load(MANIFESTS, None).module("orders")
    impostor = Module(name="impostor", app="impostor", publishes=orders.publishes)

    with pytest.raises(ConfigurationError, match="published by both orders and impostor"):
        Topology(modules=(orders, impostor), running=frozenset({"orders"})).publisher_of("x")


def test_retries_back_off_exponentially_with_jitter_up_to_a_ceiling() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=1.0, max_seconds=10.0)

    delays = [policy.delay(n).total_seconds() for n in range(1, 7)]

    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(10.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert not policy.exhausted(4)
    assert policy.exhausted(5)


def test_using_a_port_nobody_provides_is_a_configuration_error() -> None:
    reports = Module(name="reports", app="reports", uses=(InventoryQueries,))

    with pytest.raises(ConfigurationError, match="no module provides the query port"):
        Topology(modules=(reports,), running=frozenset({"reports"})).validate()
