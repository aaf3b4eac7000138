"""Triggers on the tables of a module being moved, in the database it moves from.

- The capture (an online move) records, in the writer's own transaction, the key of every row
  written while the copy runs, so that a catch-up copies it again.
- The freeze refuses every write to the tables, with a message saying why, from the end of
  the copy until the old copy is dropped (or the move given up): a process that still runs the
  module on that database fails loudly rather than writing where nobody will read.

Creating a trigger locks its table against writes until the creating transaction commits, so
writes in flight finish first; on PostgreSQL that wait is bounded (`LOCK_TIMEOUT`), so a long
transaction cannot make every writer queue behind the move. On PostgreSQL the freeze's error
is SQLSTATE 57P03 (cannot connect now), which drivers raise as an OperationalError: a handler
of the module that meets it waits for its database, as for any outage, using no attempt.
"""

import hashlib
from collections.abc import Sequence

from django.db import connections, transaction

from modulith.datamove.models import CapturedChange
from modulith.datamove.tables import MovedTable
from modulith.store.statements import quote

LOCK_TIMEOUT = "10s"
OPERATIONS = ("INSERT", "UPDATE", "DELETE")

_FROZEN_FUNCTION = """
CREATE OR REPLACE FUNCTION modulith_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '57P03', MESSAGE = format(
    'modulith: %s has moved, or is moving, to its own database: %s takes no writes here',
    TG_ARGV[0], TG_TABLE_NAME);
END $$
"""
_CAPTURE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION modulith_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO {quote(CapturedChange._meta.db_table)} (module, table_name, "row")
    VALUES (TG_ARGV[0], TG_TABLE_NAME, to_jsonb(OLD) ->> TG_ARGV[1]);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO {quote(CapturedChange._meta.db_table)} (module, table_name, "row")
    VALUES (TG_ARGV[0], TG_TABLE_NAME, to_jsonb(NEW) ->> TG_ARGV[1]);
  END IF;
  RETURN NULL;
END $$
"""


def freeze(alias: str, module: str, tables: Sequence[MovedTable]) -> None:
    """Refuses writes to the tables from now on (waiting for those in flight)."""
    statements = []
    for table in tables:
        statements += _drop(alias, "freeze", table)
        statements += _freeze(alias, module, table)
    _run(alias, [_FROZEN_FUNCTION] if _postgres(alias) else [], statements)


def thaw(alias: str, tables: Sequence[MovedTable]) -> None:
    _run(alias, [], [s for table in tables for s in _drop(alias, "freeze", table)])


def capture(alias: str, module: str, tables: Sequence[MovedTable]) -> None:
    """Records the key of every row written to the tables from now on."""
    statements = []
    for table in tables:
        statements += _drop(alias, "capture", table)
        statements += _capture(alias, module, table)
    _run(alias, [_FROZEN_FUNCTION, _CAPTURE_FUNCTION] if _postgres(alias) else [], statements)


def stop_capture(alias: str, tables: Sequence[MovedTable]) -> None:
    _run(alias, [], [s for table in tables for s in _drop(alias, "capture", table)])


def frozen_tables(alias: str, tables: Sequence[MovedTable]) -> list[str]:
    """Which of the tables have the freeze's trigger now."""
    with connections[alias].cursor() as cursor:
        if _postgres(alias):
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    return [t.name for t in tables if any(n in present for n in _names("freeze", t))]


def _freeze(alias: str, module: str, table: MovedTable) -> list[str]:
    if _postgres(alias):
        return [
            f"CREATE TRIGGER {quote(_name('freeze', table))} BEFORE INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {quote(table.name)} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION modulith_frozen({_literal(module)})"
        ]
    message = _literal(
        f"modulith: {module} has moved, or is moving, to its own database: "
        f"{table.name} takes no writes here"
    )
    return [
        f"CREATE TRIGGER {quote(_name('freeze', table, operation))} BEFORE {operation} ON "
        f"{quote(table.name)} BEGIN SELECT RAISE(ABORT, {message}); END"
        for operation in OPERATIONS
    ]


def _capture(alias: str, module: str, table: MovedTable) -> list[str]:
    if _postgres(alias):
        return [
            f"CREATE TRIGGER {quote(_name('capture', table))} AFTER INSERT OR UPDATE OR DELETE "
            f"ON {quote(table.name)} FOR EACH ROW EXECUTE FUNCTION "
            f"modulith_capture({_literal(module)}, {_literal(table.pk_column)})",
            # A TRUNCATE writes no rows to capture: refused while the copy runs.
            f"CREATE TRIGGER {quote(_name('capture', table, 'TRUNCATE'))} BEFORE TRUNCATE ON "
            f"{quote(table.name)} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION modulith_frozen({_literal(module)})",
        ]
    into = (
        f'INSERT INTO {quote(CapturedChange._meta.db_table)} (module, table_name, "row") '
        f"VALUES ({_literal(module)}, {_literal(table.name)}, "
    )
    pk = quote(table.pk_column)
    rows = {"INSERT": ["NEW"], "UPDATE": ["OLD", "NEW"], "DELETE": ["OLD"]}
    return [
        f"CREATE TRIGGER {quote(_name('capture', table, operation))} AFTER {operation} ON "
        f"{quote(table.name)} BEGIN "
        + " ".join(f"{into}{which}.{pk});" for which in rows[operation])
        + " END"
        for operation in OPERATIONS
    ]


def _drop(alias: str, kind: str, table: MovedTable) -> list[str]:
    if _postgres(alias):
        return [
            f"DROP TRIGGER IF EXISTS {quote(name)} ON {quote(table.name)}"
            for name in _names(kind, table)
        ]
    return [f"DROP TRIGGER IF EXISTS {quote(name)}" for name in _names(kind, table)]


def _names(kind: str, table: MovedTable) -> list[str]:
    return [_name(kind, table), *(_name(kind, table, op) for op in (*OPERATIONS, "TRUNCATE"))]


def _name(kind: str, table: MovedTable, operation: str = "") -> str:
    """Short enough for PostgreSQL's 63 characters, whatever the table's name."""
    digest = hashlib.sha1(table.name.encode(), usedforsecurity=False).hexdigest()[:12]
    return f"modulith_{kind}_{digest}" + (f"_{operation.lower()}" if operation else "")


def _run(alias: str, setup: list[str], statements: list[str]) -> None:
    if _postgres(alias):
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            for statement in [*setup, *statements]:
                cursor.execute(statement)
        return
    # SQLite: the write lock taken at once, waiting out a writer (busy timeout), rather than
    # upgraded from a read, which a concurrent writer turns into "database is locked" at once.
    connections[alias].ensure_connection()
    with connections[alias].cursor() as cursor:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                cursor.execute(statement)
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")


def journal_is_wal(alias: str) -> bool:
    """Whether a SQLite database keeps a write-ahead log, where readers do not block writers
    (PostgreSQL: always so)."""
    if _postgres(alias):
        return True
    with connections[alias].cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        return str(cursor.fetchone()[0]).lower() == "wal"


def _postgres(alias: str) -> bool:
    return connections[alias].vendor == "postgresql"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
