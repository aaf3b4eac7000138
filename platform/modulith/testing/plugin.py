"""The pytest plugin: the `module_scenario` fixture, and `--modulith-queries FILE`, which
records the joins and transactions across modules that the suite's queries make (for
`manage.py readiness --queries FILE`).

pytest imports its plugins before pytest-django sets Django up, and a scenario needs Django's
apps and models; so this module imports only pytest, and the fixtures import the rest when a
test asks for them.
"""

from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

QUERIES_OPTION = "--modulith-queries"
RECORDER = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("modulith").addoption(
        QUERIES_OPTION,
        metavar="FILE",
        default=None,
        help=(
            "record in FILE each query joining two modules' tables, and each transaction "
            "writing one's and touching another's (read by manage.py readiness --queries)"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption(QUERIES_OPTION)
    if path and not hasattr(config, "workerinput"):  # once, before any worker appends
        Path(path).write_text("", encoding="utf-8")


@pytest.fixture(autouse=True)
def _modulith_queries(request: pytest.FixtureRequest) -> Iterator[None]:
    path = request.config.getoption(QUERIES_OPTION)
    transactional = _database_use(request) if path else None
    if transactional is None:  # not asked for, or a test without the database
        yield
        return
    from modulith.testing.queries import QueryRecorder  # needs Django's apps: see above

    # Inside the database fixture: its set-up and flush are not the test's queries.
    request.getfixturevalue("transactional_db" if transactional else "db")
    recorder = request.config.stash.setdefault(RECORDER, QueryRecorder())
    with recorder.recording(request.node.nodeid, baseline=0 if transactional else 1):
        yield
    with Path(path).open("a", encoding="utf-8") as file:
        file.writelines(query.line() + "\n" for query in recorder.found)
    recorder.found.clear()


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


def _database_use(request: pytest.FixtureRequest) -> bool | None:
    """Whether the test uses the database in transactions of its own (True), inside the one
    pytest-django wraps it in (False), or not at all (None): from its marker or fixtures."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None:
        return _access(*marker.args, **marker.kwargs)[0]
    names = set(request.fixturenames)
    if names & {"transactional_db", "live_server", "django_db_reset_sequences"}:
        return True
    return False if "db" in names else None


def _check_database_access(node: pytest.Item, modules: Collection[str]) -> None:
    marker = node.get_closest_marker("django_db")
    transaction, databases = _access(*marker.args, **marker.kwargs) if marker else (False, [])
    from modulith.conf import modulith_settings  # needs Django's settings: see above

    topology = modulith_settings().topology
    wanted = sorted({topology.module(name).database for name in modules if topology.named(name)})
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
