"""Reading a table's rows, writing them to another database, and summing them up: a count and
a checksum that two databases agree on exactly when they hold the same rows, whatever their
engines (values as the model's fields read them; rows in any order)."""

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connections
from django.db.models import Model, QuerySet

from modulith.datamove.tables import MovedTable
from modulith.store.statements import insert, quote

# SQLite takes up to 32766 parameters a statement (3.32 and later).
MAX_PARAMETERS = 30_000
CHECKSUM_MODULUS = 2**256


@dataclass(frozen=True)
class TableSum:
    rows: int
    checksum: str

    def __str__(self) -> str:
        return f"{self.rows} rows, checksum {self.checksum[:16]}"


def columns(model: type[Model]) -> list[str]:
    """The attnames of the table's own columns (a child model's, not its parent's)."""
    return [field.attname for field in model._meta.local_concrete_fields]


def rows_of(table: MovedTable, alias: str) -> QuerySet[Any, tuple[Any, ...]]:
    """Every row of the table that moves, as tuples of `columns`, by primary key; through the
    base manager, which no project manager filters (a soft-delete manager would hide rows)."""
    manager = table.model._base_manager.db_manager(alias)
    return manager.filter(table.rows).order_by("pk").values_list(*columns(table.model))


def batch_after(table: MovedTable, alias: str, last_pk: Any, size: int) -> list[tuple[Any, ...]]:
    """The next `size` rows after the primary key `last_pk` (None: from the first)."""
    rows = rows_of(table, alias)
    if last_pk is not None:
        rows = rows.filter(pk__gt=last_pk)
    return list(rows[:size])


def write_rows(table: MovedTable, alias: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Inserts the rows (tuples of `columns`) as they are, primary keys included."""
    names = columns(table.model)
    per_statement = max(1, MAX_PARAMETERS // len(names))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        insert(alias, table.model, [dict(zip(names, row, strict=True)) for row in chunk])


def keys_of(table: MovedTable, alias: str) -> list[Any]:
    """The primary keys of the moving rows of the table in `alias`."""
    rows = table.model._base_manager.db_manager(alias).filter(table.rows)
    return list(rows.values_list("pk", flat=True))


def delete_rows(table: MovedTable, alias: str, pks: Sequence[Any]) -> None:
    """Deletes the rows with these primary keys, and nothing else: no cascade to the rows that
    refer to them (each table is copied on its own) and no signal to the project's receivers."""
    connection = connections[alias]
    pk = table.model._meta.pk
    assert pk is not None
    with connection.cursor() as cursor:
        for chunk in in_batches(pks, 1000):
            values = [pk.get_db_prep_value(value, connection) for value in chunk]
            cursor.execute(
                f"DELETE FROM {quote(table.name)} WHERE {quote(pk.column)} IN "
                f"({', '.join(['%s'] * len(values))})",
                values,
            )


def table_sum(table: MovedTable, alias: str) -> TableSum:
    """The count and checksum of the moving rows in `alias`: the sum of each row's SHA-256,
    so that the order the database returns them in does not matter."""
    count, total = 0, 0
    for row in rows_of(table, alias).iterator(chunk_size=2000):
        count += 1
        total += int.from_bytes(hashlib.sha256(_canonical_row(row)).digest(), "big")
    return TableSum(count, f"{total % CHECKSUM_MODULUS:064x}")


def keys_sum(table: MovedTable, alias: str) -> TableSum:
    """The count and checksum of the moving rows' primary keys only: for the bus's rows, whose
    delivery state the relay may change while they are compared."""
    count, total = 0, 0
    keys = table.model._base_manager.db_manager(alias).filter(table.rows).values_list("pk")
    for row in keys.iterator(chunk_size=2000):
        count += 1
        total += int.from_bytes(hashlib.sha256(_canonical_row(row)).digest(), "big")
    return TableSum(count, f"{total % CHECKSUM_MODULUS:064x}")


def pk_of(table: MovedTable, text: str) -> Any:
    """A primary key written as text (by a trigger, or in the copy's progress) as a value."""
    pk = table.model._meta.pk
    assert pk is not None
    return pk.to_python(text)


def in_batches(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _canonical_row(row: tuple[Any, ...]) -> bytes:
    return json.dumps([_canonical(value) for value in row], separators=(",", ":")).encode()


def _canonical(value: Any) -> Any:
    """One spelling of a value, whichever engine it was read from."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return json.dumps(value, sort_keys=True, default=str)
