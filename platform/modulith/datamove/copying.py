"""Copying a module's tables from one database to another: in batches, each committed with the
copy's progress in the receiving database (so a copy killed at any moment resumes where its
last batch ended), and, for an online move, catching up with the rows written meanwhile.

Every pass reads its source in one snapshot (a repeatable-read transaction on PostgreSQL, a
read transaction on SQLite), so what arrives is one consistent state of the source, and the
rows written since are exactly those captured since (their capture commits with them)."""

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction

from modulith.datamove.models import CapturedChange, CopiedTable
from modulith.datamove.rows import (
    batch_after,
    columns,
    delete_rows,
    in_batches,
    keys_of,
    pk_of,
    rows_of,
    write_rows,
)
from modulith.datamove.tables import MovedTable

Progress = Callable[[str], None]
CATCH_UP_BATCH = 1000


@contextmanager
def snapshot(alias: str) -> Iterator[None]:
    """Reads on `alias` see one state of the database until the block ends."""
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield
        return
    # SQLite: a deferred transaction takes no write lock (the project's may be IMMEDIATE).
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            cursor.execute("COMMIT")


class Copier:
    """Copies `tables` of `module` from `source` to `target`."""

    def __init__(
        self,
        module: str,
        source: str,
        target: str,
        tables: Sequence[MovedTable],
        *,
        batch_size: int,
        progress: Progress,
    ) -> None:
        self.module = module
        self.source = source
        self.target = target
        self.tables = list(tables)
        self.batch_size = batch_size
        self.progress = progress

    def copy(self) -> None:
        """Copies what is left to copy. A copy that was interrupted first catches up with what
        was written since to the part it had copied, in the same snapshot."""
        with snapshot(self.source):
            applied = self._catch_up(resuming=True)
            for table in self.tables:
                self._copy_table(table)
        self._forget(applied)

    def catch_up(self) -> int:
        """Copies again the rows captured since the copy began (or the last catch-up), then
        forgets those captures; returns how many there were."""
        with snapshot(self.source):
            applied = self._catch_up(resuming=False)
        self._forget(applied)
        return len(applied)

    def reset(self) -> None:
        """Forgets the progress, and the rows copied, in the target."""
        with transaction.atomic(using=self.target):
            CopiedTable.objects.using(self.target).filter(module=self.module).delete()
            for table in reversed(self.tables):
                delete_rows(table, self.target, keys_of(table, self.target))

    def _copy_table(self, table: MovedTable) -> None:
        progress, _ = CopiedTable.objects.using(self.target).get_or_create(
            module=self.module, table=table.name
        )
        if progress.done:
            return
        key = columns(table.model).index(_pk_attname(table))
        last = pk_of(table, progress.last_pk) if progress.last_pk else None
        while True:
            rows = batch_after(table, self.source, last, self.batch_size)
            with transaction.atomic(using=self.target):
                write_rows(table, self.target, rows)
                if rows:
                    last = rows[-1][key]
                    progress.last_pk, progress.rows = str(last), progress.rows + len(rows)
                progress.done = len(rows) < self.batch_size
                progress.save(using=self.target)
            if rows:
                self.progress(f"copied {table.name}: {progress.rows} rows")
            if progress.done:
                return

    def _catch_up(self, *, resuming: bool) -> list[int]:
        """Applies the captured changes (when `resuming`, only to what the copy has reached:
        it reaches the rest itself); returns the ids of those applied."""
        by_name = {table.name: table for table in self.tables}
        copied = {
            p.table: p for p in CopiedTable.objects.using(self.target).filter(module=self.module)
        }
        captured = CapturedChange.objects.using(self.source).filter(module=self.module)
        changes: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        for capture, name, text in captured.order_by("pk").values_list("pk", "table_name", "row"):
            if name in by_name:
                changes[name].append((capture, pk_of(by_name[name], text)))
        applied: list[int] = []
        with transaction.atomic(using=self.target):  # one transaction: a row and its parent
            for name, found in changes.items():
                table = by_name[name]
                if resuming:
                    found = self._reached(table, copied.get(name), found)
                if found:
                    self._replace(table, list(dict.fromkeys(pk for _, pk in found)))
                    applied += [capture for capture, _ in found]
        return applied

    def _reached(
        self, table: MovedTable, progress: CopiedTable | None, found: list[tuple[int, Any]]
    ) -> list[tuple[int, Any]]:
        """The captured rows the copy of an unfinished table has already passed (compared by
        the source database, in its own order of keys), and those since deleted."""
        if progress is None or not progress.last_pk:
            return []
        if progress.done:
            return found
        keys = [pk for _, pk in found]
        rows = table.model._base_manager.db_manager(self.source).filter(pk__in=keys)
        ahead = set(rows.filter(pk__gt=pk_of(table, progress.last_pk)).values_list("pk", flat=True))
        return [(capture, pk) for capture, pk in found if pk not in ahead]

    def _replace(self, table: MovedTable, pks: list[Any]) -> None:
        """The target's rows with these keys become the source's (gone, if gone there)."""
        for chunk in in_batches(pks, CATCH_UP_BATCH):
            delete_rows(table, self.target, chunk)
            write_rows(table, self.target, list(rows_of(table, self.source).filter(pk__in=chunk)))
        self.progress(f"caught up {table.name}: {len(pks)} rows written meanwhile")

    def _forget(self, captured: list[int]) -> None:
        changes = CapturedChange.objects.using(self.source)
        for ids in in_batches(captured, CATCH_UP_BATCH):
            changes.filter(pk__in=ids).delete()


def _pk_attname(table: MovedTable) -> str:
    pk = table.model._meta.pk
    assert pk is not None
    return pk.attname
