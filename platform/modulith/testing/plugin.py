"""The pytest plugin: the `module_scenario` fixture.

pytest imports its plugins before pytest-django sets Django up, and a scenario needs Django's
apps and models; so this module imports only pytest, and the fixture imports the scenario
when a test asks for one.
"""

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

import pytest


@pytest.fixture
def module_scenario(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Starts a scenario of the modules named, the others absent:
    `module_scenario("orders", providers={InventoryQueries: catalogue})`. The test needs a
    transactional database with the modules' databases (deliveries run after commit):
    `@pytest.mark.django_db(transaction=True, databases=["orders"])`. The scenario stops at
    the end of the test, once what it set in motion has been handled."""
    from modulith.testing.scenario import Scenario  # needs Django's apps: see above

    started: list[Scenario] = []

    def start(*modules: str, providers: Mapping[type[Any], object] | None = None) -> Scenario:
        _check_database_access(request.node, modules)
        scenario = Scenario.start(modules, providers=providers)
        started.append(scenario)
        return scenario

    yield start
    for scenario in reversed(started):
        scenario.stop()


def _check_database_access(node: pytest.Item, modules: Collection[str]) -> None:
    marker = node.get_closest_marker("django_db")
    transaction, databases = _access(*marker.args, **marker.kwargs) if marker else (False, [])
    wanted = sorted(modules)
    if not transaction or not (databases == "__all__" or set(wanted) <= set(databases)):
        pytest.fail(
            f"module_scenario({', '.join(map(repr, modules))}) needs transactions of its own "
            f"in its modules' databases (deliveries run after commit): mark the test "
            f"@pytest.mark.django_db(transaction=True, databases={wanted!r})",
            pytrace=False,
        )


def _access(
    transaction: bool = False,
    reset_sequences: bool = False,
    databases: str | Iterable[str] | None = None,
    serialized_rollback: bool = False,
    available_apps: object = None,
) -> tuple[bool, str | list[str]]:
    """What a `django_db` marker grants (its arguments are pytest-django's)."""
    if databases is None:
        return transaction, ["default"]
    return transaction, databases if databases == "__all__" else list(databases)
