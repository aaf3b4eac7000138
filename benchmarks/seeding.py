"""Rows in bulk, straight into a module database: the outbox's history or backlog without a
publish call each.

The columns come from the Django model (`_meta.concrete_fields`), so the seeder follows the
schema: a column it is not told about gets the field's default (or NULL), and a column added
without either stops it with a message that says which. Values are given already in the form
the database stores (`Seeder.uuid`, `Seeder.time`); rows go in with `executemany`, in
transactions of `chunk` rows; on SQLite with `synchronous=OFF` and a large page cache until
`close()` (which closes the connection, so the process goes on with the project's own
settings). Use it as a context manager.

Import after Django is set up.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from django.db import connections, transaction
from django.db.models import Model
from django.db.models.fields import AutoFieldMixin

Value = list[object] | object  # a value a row, or one for every row

# A multiplier with good spread, for the low bits of seeded ids.
_SPREAD = 0x9E3779B97F4A7C15
_LOW = (1 << 32) - 1


class Seeder:
    def __init__(self, alias: str, *, chunk: int = 50_000) -> None:
        self.alias = alias
        self.connection = connections[alias]
        self.chunk = chunk
        self.sqlite = self.connection.vendor == "sqlite"
        self._times: dict[int, str] = {}
        self._prepared = False

    # --- values in the database's own form ------------------------------------------------

    @staticmethod
    def ids(seed: int, start: int, count: int) -> list[str]:
        """Ids `start` to `start + count - 1` of the series `seed` names, as 32 hex digits
        (how Django stores a UUIDField on SQLite; PostgreSQL's uuid type accepts them too).
        The same every run, and increasing with the index, like time-ordered UUIDs: B-trees
        fill in order, which is faster and packs their pages as a long-lived table's are
        after vacuuming."""
        high = (seed >> 64) & ((1 << 64) - 1)
        return [
            f"{high:016x}{index & ((1 << 32) - 1):08x}{(index * _SPREAD) & _LOW:08x}"
            for index in range(start, start + count)
        ]

    @staticmethod
    def dashed(hex_id: str) -> str:
        """The same id as `str(uuid)` writes it: how it appears in an event's wire form."""
        h = hex_id
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def time(self, moment: datetime) -> str:
        """An aware UTC datetime as the database stores it (naive UTC text on SQLite)."""
        second = int(moment.timestamp())
        prefix = self._times.get(second)
        if prefix is None:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d %H:%M:%S")
            self._times[second] = prefix
        text = f"{prefix}.{moment.microsecond:06d}"
        return text if self.sqlite else text + "+00:00"

    # --- rows ------------------------------------------------------------------------------

    def insert(self, model: type[Model], count: int, values: Mapping[str, Value]) -> None:
        """`count` rows of `model`; `values` maps a column to a constant, or to a list of
        `count` values (the nth row takes the nth). Auto-incremented keys are left to the
        database."""
        columns, sources = self._columns(model, values)
        table = self.connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(self.connection.ops.quote_name(column) for column in columns)
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        iterables: list[Iterable[object]] = []
        for column, source in zip(columns, sources, strict=True):
            if isinstance(source, list):
                if len(source) != count:
                    raise ValueError(f"{column}: {len(source)} values for {count} rows")
                iterables.append(source)
            else:
                iterables.append(itertools.repeat(source, count))
        rows = zip(*iterables, strict=True)
        if not self._prepared:
            self._prepare()
        while batch := list(itertools.islice(rows, self.chunk)):
            with transaction.atomic(using=self.alias), self.connection.cursor() as cursor:
                if self.sqlite:
                    cursor.executemany(sql, batch)
                else:  # PostgreSQL (psycopg 3): COPY, many times faster than INSERTs
                    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
        if not self.sqlite:
            # What autovacuum would do soon after a bulk load: statistics for the planner, so
            # the first relay is measured with the plans of a table it knows.
            with self.connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {table}")

    def _columns(
        self, model: type[Model], values: Mapping[str, Value]
    ) -> tuple[list[str], list[Value]]:
        columns: list[str] = []
        sources: list[Value] = []
        unknown = set(values)
        for field in model._meta.concrete_fields:
            column = field.column
            if column is None:
                continue
            unknown.discard(column)
            if column in values:
                value = values[column]
            elif field.primary_key and isinstance(field, AutoFieldMixin):
                continue
            elif field.has_default():
                value = field.get_db_prep_save(field.get_default(), self.connection)
            elif field.null:
                value = None
            else:
                raise RuntimeError(
                    f"{model.__name__}.{field.name} ({column}) has no default and is not "
                    "nullable: give the seeder a value for it"
                )
            columns.append(column)
            sources.append(value)
        if unknown:  # a column renamed or dropped meanwhile: say so, seed the rest
            print(f"note: {model.__name__} has no columns {sorted(unknown)}", file=sys.stderr)
        return columns, sources

    def __enter__(self) -> Seeder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _prepare(self) -> None:
        self._prepared = True
        if self.sqlite:
            with self.connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-262144")  # 256 MB

    def close(self) -> None:
        """Writes the WAL back into the database, on disk, and closes the connection: the next
        query opens one with the project's own settings. Synced, because the rows were written
        with synchronous=OFF: left to the kernel, the first checkpoint of a timed saga (which
        syncs the file) waited for hundreds of MB of them, 0.2-0.7 s, and the p99 grew with
        the history seeded, not with anything the framework does."""
        if self._prepared and self.sqlite:
            with self.connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._prepared = False
        self.connection.close()


def spread(start: datetime, end: datetime, count: int) -> Callable[[int], datetime]:
    """The `index`-th of `count` moments evenly spread from `start` to `end`."""
    step = (end - start) / max(count, 1)
    return lambda index: start + step * index


def ago(**amount: float) -> datetime:
    return datetime.now(UTC) - timedelta(**amount)
