"""Shared fixtures. Tests run on real databases: SQLite files by default, PostgreSQL in CI."""

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from modulith.runtime import runtime

# modulith's test harness (the `module_scenario` fixture, see docs/testing.md), and pytest's
# own, for the tests of that harness.
pytest_plugins = ["modulith.testing", "pytester"]

API_KEY = "dev-api-key"


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


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def sweep() -> Any:
    current = runtime()
    return current.relay.sweep(m.database for m in current.topology.running_modules)
