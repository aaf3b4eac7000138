"""The statements the bus makes for every event, written as SQL once per shape and run on the
cursor: the ORM would build and compile each of them anew for every event, which costs more
than the database's work (measured: benchmarks/bus_overhead.py --profile). Values are
prepared by the models' own fields, so what is stored is what the ORM would store.
"""

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, Model

from modulith.database.store.models import Delivery, DeliveryStatus

M = TypeVar("M", bound=Model)


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
    preparers = _preparers(model, names)
    sql = _insert_sql(model, names, len(rows), returning_pk)
    params = [
        prepare(row[name], connection)
        for row in rows
        for name, prepare in zip(names, preparers, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()] if returning_pk else []


def loaded(alias: str, model: type[M], row: Mapping[str, object]) -> M:
    """The instance of a row just written (every concrete field, by attname), as the ORM
    would load it from `alias`."""
    fields = model._meta.concrete_fields
    return model.from_db(alias, [f.attname for f in fields], [row[f.attname] for f in fields])


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


# A value made a statement's parameter, as `Field.get_db_prep_save` makes it.
Prepare = Callable[[Any, BaseDatabaseWrapper], Any]


@lru_cache(maxsize=256)
def _preparers(model: type[Model], names: tuple[str, ...]) -> tuple[Prepare, ...]:
    return tuple(_preparer(field) for field in _fields(model, names))


def _preparer(field: "Field[Any, Any]") -> Prepare:
    """How a value of `field` becomes a parameter. For the plain values the bus stores (text,
    whole numbers, aware datetimes, UUIDs), only the one step of the field's own
    `get_db_prep_save` that changes them: the whole chain is most of an insert's Python
    (measured: benchmarks/bus_overhead.py --profile). Anything else goes through the field."""
    full: Prepare = field.get_db_prep_save
    # A foreign key stores its target's value.
    target = field.target_field if isinstance(field, ForeignKey) else field
    kind = target.get_internal_type()
    if kind in {"CharField", "TextField"}:
        return lambda value, connection: value if type(value) is str else full(value, connection)
    if kind in {"PositiveIntegerField", "IntegerField", "BigIntegerField", "BigAutoField"}:
        return lambda value, connection: value if type(value) is int else full(value, connection)
    if kind == "DateTimeField":
        return _Moments(full)
    if kind == "UUIDField":
        return lambda value, connection: (
            (value if connection.features.has_native_uuid_field else value.hex)
            if type(value) is uuid.UUID
            else full(value, connection)
        )
    return full


class _Moments:
    """Aware datetimes made parameters by the database's own adapter; the last one is
    remembered, since a row (and a batch) carries the same moment in several columns."""

    def __init__(self, full: Prepare) -> None:
        self.full = full
        self.last: tuple[datetime, BaseDatabaseWrapper, Any] | None = None

    def __call__(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        last = self.last  # one read: another thread may replace it meanwhile
        if last is not None and last[0] is value and last[1] is connection:
            return last[2]
        if not isinstance(value, datetime) or value.utcoffset() is None:
            return self.full(value, connection)
        prepared = connection.ops.adapt_datetimefield_value(value)
        self.last = (value, connection, prepared)
        return prepared


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
