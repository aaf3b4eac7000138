"""modulith's test harness, a pytest plugin (`pytest_plugins = ["modulith.testing"]`, or
`-p modulith.testing`): the `module_scenario` fixture runs some of the modules with the
others absent (what it gives a test is a `Scenario`, `from modulith.testing import Scenario`);
`--modulith-queries FILE` records the queries that cross modules, for the readiness report;
`wait_until` polls for a state with a deadline; `expire_claims` and `make_due` say that a
relay's time has come instead of waiting for it (docs/testing.md).

pytest imports its plugins before Django is set up: what needs Django's models is imported
when a test first asks for it."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from modulith.testing.plugin import (
    _modulith_queries,
    module_scenario,
    pytest_addoption,
    pytest_configure,
)
from modulith.testing.polling import NotReached, wait_until

if TYPE_CHECKING:
    from modulith.testing.clock import expire_claims, make_due
    from modulith.testing.scenario import Scenario

# Imported on first use (they need Django's apps): name -> module.
_NEEDING_DJANGO = {
    "Scenario": "modulith.testing.scenario",
    "expire_claims": "modulith.testing.clock",
    "make_due": "modulith.testing.clock",
}

__all__ = [
    "NotReached",
    "Scenario",
    "_modulith_queries",
    "expire_claims",
    "make_due",
    "module_scenario",
    "pytest_addoption",
    "pytest_configure",
    "wait_until",
]


def __getattr__(name: str) -> Any:
    if name in _NEEDING_DJANGO:
        return getattr(import_module(_NEEDING_DJANGO[name]), name)
    raise AttributeError(f"module 'modulith.testing' has no attribute {name!r}")
