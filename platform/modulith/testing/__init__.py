"""modulith's test harness, a pytest plugin (`pytest_plugins = ["modulith.testing"]`, or
`-p modulith.testing`): the `module_scenario` fixture runs some of the modules with the
others absent (what it gives a test is a `Scenario`, `from modulith.testing import Scenario`);
`--modulith-queries FILE` records the queries that cross modules, for the readiness report.
`Scenario` is exported lazily: pytest loads this plugin before Django is set up."""

import importlib
from typing import TYPE_CHECKING, Any

from modulith.testing.plugin import (
    _modulith_queries,
    module_scenario,
    pytest_addoption,
    pytest_configure,
)

if TYPE_CHECKING:
    from modulith.testing.scenario import Scenario

__all__ = [
    "Scenario",
    "_modulith_queries",
    "module_scenario",
    "pytest_addoption",
    "pytest_configure",
]


def __getattr__(name: str) -> Any:
    if name != "Scenario":
        raise AttributeError(f"module 'modulith.testing' has no attribute {name!r}")
    return importlib.import_module("modulith.testing.scenario").Scenario
