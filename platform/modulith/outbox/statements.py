"""The statements the bus makes for every event, written as SQL once per shape and run on the
cursor: the ORM would build and compile each of them anew for every event, which costs more
than the database's work (measured: benchmarks/bus_overhead.py --profile). Values are
prepared by the models' own fields, so what is stored is what the ORM would store.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import connections
from django.db.models import Field, Model

from modulith.outbox.models import Delivery, DeliveryStatus


def insert(
    alias: str,
    model: type[Model],
    rows: Sequence[Mapping[str, object]],
    *,
    returning_pk: bool = False,
) -> list[Any]:
    """Inserts rows (each a mapping of the same field names, by attname) in one statement;
    returns their primary keys if asked (INSERT … RETURNING, on SQLite and PostgreSQL)."""
    connection = connections[alias]
    names = tuple(rows[0])
    fields = _fields(model, names)
    sql = _insert_sql(model, names, len(rows), returning_pk)
    params = [
        field.get_db_prep_save(row[name], connection)
        for row in rows
        for name, field in zip(names, fields, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()] if returning_pk else []


def mark_delivered(alias: str, ids: Sequence[int], tokens: Sequence[str], now: datetime) -> int:
    """Delivered, where the claim is still one of `tokens`; how many were."""
    connection = connections[alias]
    moment = Delivery._meta.get_field("delivered_at").get_db_prep_save(now, connection)
    sql = _mark_delivered_sql(len(ids), len(tokens))
    with connection.cursor() as cursor:
        cursor.execute(sql, [DeliveryStatus.DELIVERED.value, moment, moment, *ids, *tokens])
        return int(cursor.rowcount)


def _fields(model: type[Model], names: tuple[str, ...]) -> list["Field[Any, Any]"]:
    return [model._meta.get_field(name) for name in names]  # type: ignore[misc]


@lru_cache(maxsize=256)
def _insert_sql(model: type[Model], names: tuple[str, ...], count: int, returning_pk: bool) -> str:
    columns = ", ".join(quote(field.column) for field in _fields(model, names))
    row = f"({', '.join(['%s'] * len(names))})"
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * count)}"
    if returning_pk:
        assert model._meta.pk is not None
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql


@lru_cache(maxsize=256)
def _mark_delivered_sql(ids: int, tokens: int) -> str:
    column = {f.name: quote(f.column) for f in Delivery._meta.concrete_fields}
    return (
        f"UPDATE {quote(Delivery._meta.db_table)} SET {column['status']} = %s, "
        f"{column['delivered_at']} = %s, {column['updated_at']} = %s, "
        f"{column['attempts']} = {column['attempts']} + 1, {column['claimed_by']} = '', "
        f"{column['claimed_until']} = NULL, {column['last_error']} = '' "
        f"WHERE {column['id']} IN ({', '.join(['%s'] * ids)}) "
        f"AND {column['claimed_by']} IN ({', '.join(['%s'] * tokens)})"
    )


def quote(name: str | None) -> str:
    """An identifier quoted the SQL standard's way, as SQLite and PostgreSQL both take it."""
    assert name, "a column or table name"
    return '"' + name.replace('"', '""') + '"'
