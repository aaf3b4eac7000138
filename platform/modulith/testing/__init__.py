"""modulith's test harness, a pytest plugin (`pytest_plugins = ["modulith.testing"]`, or
`-p modulith.testing`): the `module_scenario` fixture runs some of the modules with the
others absent (what it gives a test is `modulith.testing.scenario.Scenario`);
`--modulith-queries FILE` records the queries that cross modules, for the readiness report."""

from modulith.testing.plugin import (
    _modulith_queries,
    module_scenario,
    pytest_addoption,
    pytest_configure,
)

__all__ = ["_modulith_queries", "module_scenario", "pytest_addoption", "pytest_configure"]
