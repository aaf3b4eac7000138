"""inventory on its own: orders and payments are absent."""

import pytest

from modulith.testing.scenario import Scenario, ScenarioFactory


@pytest.fixture
def inventory(module_scenario: ScenarioFactory) -> Scenario:
    return module_scenario("inventory")
