"""payments on its own: orders and inventory are absent, and orders' pending orders come from
a list the test fills."""

import pytest

from contracts.orders import OrderQueries
from modulith.testing.scenario import Scenario, ScenarioFactory
from tests.providers import PendingOrders


@pytest.fixture
def pending_orders() -> PendingOrders:
    return PendingOrders()


@pytest.fixture
def payments(module_scenario: ScenarioFactory, pending_orders: PendingOrders) -> Scenario:
    return module_scenario("payments", providers={OrderQueries: pending_orders})
