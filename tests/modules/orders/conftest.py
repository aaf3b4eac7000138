"""orders on its own: inventory and payments are absent, and inventory's prices come from a
catalogue the test stocks."""

import pytest

from contracts.inventory import InventoryQueries
from modulith.testing.scenario import Scenario, ScenarioFactory
from tests.providers import Catalogue


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue()


@pytest.fixture
def orders(module_scenario: ScenarioFactory, catalogue: Catalogue) -> Scenario:
    return module_scenario("orders", providers={InventoryQueries: catalogue})
