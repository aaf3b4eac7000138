"""modulith.E010: a process that answers internal calls has somewhere to remember their nonces,
shared by every process and instance of its service. Without it every signed call fails (the
table is missing), or a replay to another process is accepted (a cache of each process's own).

A database check of deployment (`manage.py check --deploy --database default`, and the start
of a server, `raise_for_errors`): `migrate` runs the other checks before it makes the table,
and must not be stopped by its absence."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import BaseDatabaseCache
from django.core.checks import CheckMessage, Error
from django.db import DatabaseError, connections, router

from modulith.conf import modulith_settings
from modulith.modules.checks.scope import current_topology

# Django's own database, where modulith.ports.remote.models keeps the nonces. (The model is looked
# up when the check runs: the checks are registered while the apps load.)
NONCE_DATABASE = "default"

# Caches that do not share what they hold between processes, and what that means here.
UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps them in each process's memory",
    "django.core.cache.backends.dummy.DummyCache": "keeps nothing",
}
OTHER_STORE = {
    "database": "keep them in Redis: set MODULITH_CACHE_URL to one every instance shares",
    "cache": "keep them in a table: MODULITH_NONCE_STORE=database, then `manage.py migrate`",
}


def check_nonce_store(
    app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    current = modulith_settings()
    answers_calls = current.internal_keys and any(
        module.provides for module in current_topology().running_modules
    )
    if not answers_calls or NONCE_DATABASE not in (databases or ()):
        return []
    if current.nonce_store == "database":
        problem = _table_problem()
    else:
        problem = _cache_problem(current.nonce_cache)
    if problem is None:
        return []
    message, hint = problem
    return [
        Error(
            f"internal calls cannot be checked for replays: {message}",
            hint=hint,
            obj="MODULITH_NONCE_STORE",
            id="modulith.E010",
        )
    ]


def _table_problem() -> tuple[str, str] | None:
    nonces = apps.get_model("modulith", "CallNonce")
    table = nonces._meta.db_table
    if router.db_for_write(nonces) != NONCE_DATABASE or not router.allow_migrate_model(
        NONCE_DATABASE, nonces
    ):
        return (
            f"the database router does not keep {table} in the {NONCE_DATABASE!r} database",
            "Use DATABASE_ROUTERS = ['modulith.database.router.ModuleRouter'], or route "
            f"modulith.CallNonce to {NONCE_DATABASE!r} (reads, writes and migrations).",
        )
    if not _has_table(NONCE_DATABASE, table):
        return (
            f"the table {table} is missing from the {NONCE_DATABASE!r} database",
            f"Run `manage.py migrate` (it makes the table), or {OTHER_STORE['database']}.",
        )
    return None


def _cache_problem(alias: str) -> tuple[str, str] | None:
    config = settings.CACHES.get(alias)
    if config is None:
        return (
            f"MODULITH_NONCE_CACHE names the cache {alias!r}, which CACHES does not have",
            f"Add it to CACHES, or {OTHER_STORE['cache']}.",
        )
    backend = config.get("BACKEND", "")
    if backend in UNSHARED_CACHES:
        return (
            f"the cache {alias!r} {UNSHARED_CACHES[backend]}, so a replay to another process "
            "is accepted",
            "Give it a shared backend (MODULITH_CACHE_URL: a Redis every instance shares), or "
            f"{OTHER_STORE['cache']}.",
        )
    cache = caches[alias]
    if isinstance(cache, BaseDatabaseCache):
        database = router.db_for_write(cache.cache_model_class) or "default"
        if not _has_table(database, cache.cache_model_class._meta.db_table):
            return (
                f"the cache {alias!r} is a table that is missing from the {database!r} database",
                f"Run `manage.py createcachetable`, or {OTHER_STORE['cache']}.",
            )
    return None


def _has_table(alias: str, table: str) -> bool:
    """Whether the table is there; yes when the database cannot be asked (it is down: the
    readiness check says so, and a start should not depend on it)."""
    try:
        with connections[alias].cursor() as cursor:
            return table in connections[alias].introspection.table_names(cursor)
    except DatabaseError:
        return True
