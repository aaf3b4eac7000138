"""modulith's test harness, a pytest plugin (`pytest_plugins = ["modulith.testing"]`, or
`-p modulith.testing`): the `module_scenario` fixture runs some of the modules with the
others absent. What it gives a test is `modulith.testing.scenario.Scenario`."""

from modulith.testing.plugin import module_scenario

__all__ = ["module_scenario"]
