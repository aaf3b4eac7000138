"""The nonces of internal calls live where plain `manage.py migrate` puts them (a table of
Django's own database): a provider whose databases were migrated that way, and no other,
answers signed calls. Without the table, it does not start, and `check --deploy` says why."""

from pathlib import Path
from typing import Any

import pytest

from tests.processes import manage, run_python
from tests.security.conftest import CURRENT, ask_inventory, fresh_databases, provider_with_keys

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

COUNT_NONCES = (
    "import django; django.setup()\n"
    "from modulith.models import CallNonce\n"
    "print(CallNonce.objects.using('default').count())\n"
)
MISSING = (
    "internal calls cannot be checked for replays: the table modulith_callnonce is missing "
    "from the 'default' database"
)


def test_plain_migrate_leaves_internal_calls_working(settings: Any, tmp_path: Path) -> None:
    with fresh_databases(tmp_path) as databases:
        provider = provider_with_keys(tmp_path, "inventory-migrated", CURRENT, **databases)
        for database in ("default", "inventory"):  # Django's own, and the module's
            migrated = manage("migrate", "--database", database, timeout=120, **provider.env)
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr

        with provider:
            assert ask_inventory(settings, provider.url, CURRENT) == []
            assert ask_inventory(settings, provider.url, CURRENT) == []

        counted = run_python(COUNT_NONCES, env=provider.env)
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.strip() == "2"  # one a call, in the freshly migrated default


def test_without_the_nonce_table_a_provider_does_not_start_and_check_says_why(
    tmp_path: Path,
) -> None:
    with fresh_databases(tmp_path) as databases:
        provider = provider_with_keys(tmp_path, "inventory-unmigrated", CURRENT, **databases)
        migrated = manage("migrate", "--database", "inventory", timeout=120, **provider.env)
        assert migrated.returncode == 0, migrated.stderr  # the module's tables only

        checked = manage(
            "check",
            "--deploy",
            "--database",
            "default",
            "--tag",
            "modulith",
            timeout=60,
            **provider.env,
        )
        with pytest.raises(RuntimeError, match="did not start"):
            provider.start(timeout=30)

    assert checked.returncode == 1
    assert f"(modulith.E010) {MISSING}" in checked.stderr
    assert "Run `manage.py migrate` (it makes the table)" in checked.stderr
    assert f"configuration error: modulith.E010 {MISSING}" in provider.output()
    assert "Traceback" not in provider.output()
