"""What the bus, history and drain benchmarks share: a process of the monolith on databases of
its own, and the arithmetic of their tables.

Django is set up the way production runs it (DEBUG off, so no query log), with every module in
the process, the in-process transport, no embedded relay, and logging at INFO and below off (a
log line or two a published and delivered event would time the terminal).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
from collections.abc import Mapping
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("orders", "inventory", "payments")
# Variables of the calling shell that would change what this process runs.
FOREIGN_PREFIXES = ("DJANGO_", "MODULITH_", "CELERY_", "LOG_")
# What production sets, and every benchmark with it: DEBUG off (with DEBUG on Django records
# every SQL statement), which needs a secret key and API keys of its own.
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "benchmark-only-" + "x" * 50,
    "MODULITH_API_KEYS": "benchmark-key",
}


def configure_environment(
    var: Path, *, async_handlers: str = "inline", overrides: Mapping[str, str] | None = None
) -> None:
    """This process's environment, before Django is set up: module databases under `var`
    (unless `overrides` names another URL), the monolith, DEBUG off."""
    for name in list(os.environ):
        if name.startswith(FOREIGN_PREFIXES) or name.endswith("DATABASE_URL"):
            del os.environ[name]
    os.environ.update(
        {
            **PRODUCTION,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "MODULITH_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'default.sqlite3'}",
            "MODULITH_MODULES": "*",
            "MODULITH_TRANSPORT": "inprocess",
            "MODULITH_ASYNC_HANDLERS": async_handlers,
            "MODULITH_EMBEDDED_RELAY": "0",
        }
    )
    for module in MODULES:
        os.environ[f"{module.upper()}_DATABASE_URL"] = f"sqlite:///{var / module}.sqlite3"
    os.environ.update(overrides or {})


def set_up_django(
    var: Path,
    *,
    async_handlers: str = "inline",
    overrides: Mapping[str, str] | None = None,
    migrate: bool = True,
) -> None:
    """Django for this process, on the databases `configure_environment` names; migrated."""
    configure_environment(var, async_handlers=async_handlers, overrides=overrides)
    platform = str(ROOT / "platform")
    if platform not in sys.path:
        sys.path.insert(1, platform)

    import django
    from django.core.management import call_command

    django.setup()
    logging.disable(logging.INFO)
    if migrate:
        call_command("migrate_modules", stdout=StringIO(), verbosity=0)


def percentiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 (inclusive method, as colocation.py)."""
    if len(values) < 2:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[98]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "n/a"


def goal(text: str, met: bool) -> str:
    return f"Goal: {text}: {'met' if met else 'NOT met'}."


def load_average() -> float:
    return os.getloadavg()[0]


def machine(elapsed: float, loads: tuple[float, float]) -> str:
    return (
        f"Whole benchmark: {elapsed:.0f} s on {os.cpu_count()} CPUs, load average "
        f"{loads[0]:.2f} at the start and {loads[1]:.2f} at the end."
    )
