"""Shared fixtures. Tests run on real databases: SQLite files by default, PostgreSQL in CI."""

from collections.abc import Iterator
from importlib import import_module
from typing import Any, cast

import pytest
from django.conf import settings as django_settings
from django.test import Client

from modulith.runtime import install, runtime
from modulith.runtime.bootstrap import build_runtime
from tests.executors import SlowToStart, by_sweep

# modulith's test harness (the `module_scenario` fixture, see docs/testing.md), and pytest's
# own, for the tests of that harness.
pytest_plugins = ["modulith.testing", "pytester"]

API_KEY = "dev-api-key"


@pytest.fixture(scope="session", autouse=True)
def _urls_of_every_module() -> None:
    """A process builds its URLs (the API of each running module) once, when they are first
    imported, as a server does at start: first here, before a test narrows the modules that
    run, or that test's topology would stay the API's for the rest of the session."""
    import_module(django_settings.ROOT_URLCONF)


@pytest.fixture(autouse=True)
def _inline_delivery(settings: Any) -> None:
    """Deliveries run in the committing thread, so a test sees the saga's end when the
    request returns. The thread-pool default has its own test."""
    settings.MODULITH_ASYNC_HANDLERS = "inline"
    settings.MODULITH_RETRY_BASE_SECONDS = 0.0


@pytest.fixture
def client() -> Client:
    return Client(headers={"X-API-Key": API_KEY})


@pytest.fixture
def anonymous_client() -> Client:
    return Client()


def sweep() -> Any:
    current = runtime()
    return current.relay.sweep(current.topology.running_databases)


@pytest.fixture
def delivered_by_sweeps() -> Iterator[None]:
    """Nothing is delivered at publish: each hop waits for the sweep of its publisher's outbox,
    so the test says which module's news travels when."""
    previous = runtime()
    install(build_runtime(executor=by_sweep))
    yield
    install(previous)


@pytest.fixture
def slow_to_start() -> Iterator[SlowToStart]:
    """The runtime with a SlowToStart executor, for one test."""
    previous = runtime()
    install(build_runtime(executor=SlowToStart))
    yield cast(SlowToStart, runtime().executor)
    install(previous)
