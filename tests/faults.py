"""Faults injected for real: a database that cannot be reached, writes held on a lock."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections


@contextmanager
def database_down(alias: str) -> Iterator[None]:
    """The module's database cannot be reached: its connection points where no database is
    (a file in a folder that does not exist; a port nothing listens on)."""
    connection = connections[alias]
    connection.close()
    saved = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent/modulith/down.sqlite3"
    else:
        connection.settings_dict["HOST"], connection.settings_dict["PORT"] = "127.0.0.1", "9"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def hold_writes(alias: str, table: str) -> None:
    """Inside an atomic block on `alias`, keeps every other writer of `table` waiting until
    the block ends: SQLite's IMMEDIATE transaction already holds the database's write lock; on
    PostgreSQL, the table is locked against writes (reads go on)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {connection.ops.quote_name(table)} IN EXCLUSIVE MODE")
        else:
            cursor.execute("SELECT 1")
