"""What the attacks on internal calls share: a provider (inventory alone, gunicorn on
127.0.0.1) with keys made for this run, the framework's own signer for them, and databases
made fresh for a test. The attacks on consumers reach the real emulator through the fixtures
of tests/aws.

The keys are random, made here, and never printed: an assertion says whether a text holds one
(`leaks`), never the text and the key side by side."""

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from contracts.inventory import InventoryQueries, ProductPrice
from modulith.conf.keys import SigningKeys
from modulith.ports.remote.signing import Signer
from modulith.runtime import runtime
from tests.aws.conftest import aws, aws_emulator  # noqa: F401  (the emulator and its names)
from tests.modulith.ports.remote.conftest import (  # noqa: F401  (_a_region: autouse, for the split)
    _a_region,
    inventory_alone,
    orders_without_inventory,
)
from tests.processes import database_variable
from tests.service import Service


def key(key_id: str) -> str:
    """A key of this run, as MODULITH_INTERNAL_KEYS writes it: `id:secret`."""
    return f"{key_id}:{secrets.token_urlsafe(32)}"


CURRENT = key("current")


def signer(keys: str) -> Signer:
    return Signer(SigningKeys.parse("the test's keys", keys))


def secret_of(pair: str) -> str:
    return pair.split(":", 1)[1]


def leaks(text: str, *pairs: str) -> bool:
    return any(secret_of(pair) in text for pair in pairs)


def ask_inventory(settings: Any, provider_url: str, keys: str) -> list[ProductPrice]:
    """This process as the orders service, signing with `keys`, asks inventory for prices
    through the framework's client."""
    orders_without_inventory(settings, provider_url, keys=keys)
    prices: list[ProductPrice] = runtime().ports.resolve(InventoryQueries).prices(["KB-1"])
    return prices


def provider_with_keys(log_dir: Path, name: str, keys: str, **env: str) -> Service:
    """inventory alone, signing and verifying with `keys` (its single secret unset)."""
    return inventory_alone(
        log_dir, name, MODULITH_INTERNAL_SECRET="", MODULITH_INTERNAL_KEYS=keys, **env
    )


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, django_db_setup: None) -> Iterator[Service]:
    """The provider every attack of a test file is tried on, its keys CURRENT."""
    with provider_with_keys(tmp_path_factory.mktemp("provider"), "inventory", CURRENT) as service:
        yield service


@contextmanager
def fresh_databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Empty databases for `default` and every module, of the kind the tests run on (SQLite
    files, or PostgreSQL databases on the test server, dropped afterwards), as the
    `*DATABASE_URL` variables of a process."""
    if connections["default"].vendor != "postgresql":
        yield {
            database_variable(alias): f"sqlite:///{tmp_path / f'{alias}.sqlite3'}"
            for alias in connections
        }
        return
    server = connections["default"].settings_dict
    names = {alias: f"{server['NAME']}_{uuid.uuid4().hex[:8]}" for alias in connections}
    with connections["default"].cursor() as cursor:
        for name in names.values():
            cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            database_variable(alias): f"postgres://{server['USER']}:{server['PASSWORD']}@"
            f"{server['HOST']}:{server['PORT']}/{name}"
            for alias, name in names.items()
        }
    finally:
        with connections["default"].cursor() as cursor:
            for name in names.values():
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
