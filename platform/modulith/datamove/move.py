"""Moving a module from the shared database its manifest places it in to its own database
(`manage.py movedata`): copy, verify, cut over; later, as a step of its own, drop the old copy.

The process that moves runs the module as it will run afterwards: with `<MODULE>_DATABASE_URL`
set, so the module's database is its own alias and the one it leaves is `moved_from`. Each step
records where the move stands in both databases; run again after a crash, the move goes on from
there. From the cut-over on, the old tables refuse writes until they are dropped: a process
still running the module on the shared database fails loudly instead of writing where nobody
reads (and the checks, modulith.E032/E033, name what is wrong with each configuration).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.management.color import no_style
from django.db import connections, transaction
from django.utils import timezone

from modulith.conf import database_variable
from modulith.datamove import schema, triggers
from modulith.datamove.copying import Copier
from modulith.datamove.models import CapturedChange, ModuleMove, MoveState, latest_move
from modulith.datamove.rows import (
    TableSum,
    delete_rows,
    keys_of,
    keys_sum,
    rows_of,
    table_sum,
    write_rows,
)
from modulith.datamove.tables import MovedTable, moved_tables
from modulith.errors import ConfigurationError
from modulith.modules import Topology
from modulith.readiness import module_ties

# An online move freezes the source once a catch-up finds no more than this many rows.
SETTLED = 100
MAX_CATCH_UPS = 20


class MoveRefused(ConfigurationError):
    """The move cannot be made, or go on, as things are: one line saying why and what to do."""


@dataclass
class MoveReport:
    tables: dict[str, TableSum] = field(default_factory=dict)
    frozen_seconds: float = 0.0
    seconds: float = 0.0


class Move:
    """The move of one module, as this process runs it: on its own database."""

    def __init__(
        self,
        topology: Topology,
        name: str,
        *,
        batch_size: int = 1000,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.topology = topology
        self.module = topology.module(name)
        if not self.module.moved_from:
            raise MoveRefused(
                f"{name} does not move: it runs on {self.module.database!r}, "
                + (
                    "its own database, and its manifest places it in no shared one"
                    if not self.module.shares_database
                    else f"the shared database; set {database_variable(name)} to its new "
                    "database (as its processes will run afterwards), then run this again"
                )
            )
        self.source = self.module.moved_from
        self.target = self.module.database
        self.tables = moved_tables(self.module)
        self.owned = [table for table in self.tables if table.owned]
        self.bus_tables = [table for table in self.tables if not table.owned]
        self.progress = progress
        self._moves: dict[str, ModuleMove] = {}  # this move's record, in each database
        self.copier = Copier(
            name, self.source, self.target, self.owned, batch_size=batch_size, progress=progress
        )

    @property
    def name(self) -> str:
        return self.module.name

    # The state, as each database records it.

    def state(self, alias: str) -> ModuleMove | None:
        """The latest move of this module that `alias` records."""
        return latest_move(alias, self.name)

    def _record(self, **changes: object) -> None:
        """Records a change of the move's state in both databases."""
        for alias, move in self._moves.items():
            for name, value in changes.items():
                setattr(move, name, value)
            move.save(using=alias, update_fields=list(changes))

    # Copy, verify, cut over.

    def run(self, *, online: bool) -> MoveReport:
        started = time.monotonic()
        self._refuse(online=online)
        current = self.state(self.target)
        if current is not None and current.state == MoveState.COPYING:
            if current.online != online:
                mode = "--online" if current.online else "without --online"
                raise MoveRefused(f"this move of {self.name} began {mode}: resume it so")
            self._resume(current)
        else:
            self._begin(online=online)
        report = self._copy(online=online)
        report.seconds = time.monotonic() - started
        return report

    def _refuse(self, *, online: bool) -> None:
        """Raises MoveRefused, saying why, unless the move can be made (or go on)."""
        self._refuse_ties()
        if online and not triggers.journal_is_wal(self.source):
            raise MoveRefused(
                f"{self.source!r} is a SQLite database without a write-ahead log, where the "
                "copy's reads would block every writer: turn it on (PRAGMA journal_mode=WAL, "
                "say in OPTIONS' init_command), or move offline"
            )
        schema.check_migrations(self.name, self.source)
        replayed = schema.replayed_ties(self.name)
        if replayed:
            raise MoveRefused(
                f"{self.name}'s migrations, on a new database, make relations to tables that "
                f"are not there ({'; '.join(replayed)}): squash them (manage.py "
                f"squashmigrations {self.name} <its last migration>) now that its ties are gone"
            )
        current = self.state(self.target)
        done = {MoveState.CUT_OVER, MoveState.DROPPED, MoveState.GOING_BACK}
        if current is not None and current.state in done:
            raise MoveRefused(
                f"{self.name} was moved to {self.target!r} already ({current.state}): "
                f"see manage.py movedata {self.name} --status"
            )

    def _copy(self, *, online: bool) -> MoveReport:
        """Copies, catches up (online), verifies and cuts over."""
        schema.stop_checking_foreign_keys(self.target)
        if online:
            triggers.capture(self.source, self.name, self.owned)
        else:
            self._freeze()
        self.copier.copy()
        if online:
            self._catch_up_until_settled()
            self._freeze()
            self.copier.catch_up()
            triggers.stop_capture(self.source, self.owned)
        copy_whole(self.bus_tables, self.source, self.target)
        schema.add_foreign_keys(self.name, self.target)
        report = MoveReport(tables=self.verify())
        self._reset_sequences(self.target)
        moment = timezone.now()
        self._record(
            state=MoveState.CUT_OVER,
            cut_over_at=moment,
            tables={
                name: {"rows": s.rows, "checksum": s.checksum} for name, s in report.tables.items()
            },
        )
        frozen_at = self._moves[self.target].frozen_at
        report.frozen_seconds = (moment - frozen_at).total_seconds() if frozen_at else 0.0
        schema.validate_foreign_keys(self.name, self.target)
        return report

    def verify(self) -> dict[str, TableSum]:
        """Each moving table's count and checksum, equal in both databases (the bus's rows by
        their keys: the relay may mark them delivered meanwhile); raises if one differs."""
        sums = {}
        for table in self.tables:
            summed = table_sum if table.owned else keys_sum
            source, target = summed(table, self.source), summed(table, self.target)
            if source != target:
                raise MoveRefused(
                    f"{table.name} differs between {self.source!r} ({source}) and "
                    f"{self.target!r} ({target}): the move of {self.name} stops before the "
                    f"cut-over; run it again, or give it up with --abort"
                )
            sums[table.name] = target
            self.progress(f"verified {table.name}: {target}")
        return sums

    def _refuse_ties(self) -> None:
        ties = [t for t in module_ties(self.topology, [self.module])[self.name] if t.structural]
        if ties:
            listed = "; ".join(f"{tie.kind} {tie.what}" for tie in ties)
            raise MoveRefused(
                f"{self.name} is still tied to tables that stay in {self.source!r}: {listed} "
                f"(manage.py readiness {self.name} says what replaces each)"
            )

    def _begin(self, *, online: bool) -> None:
        schema.create_tables(self.name, self.target)
        previous = self.state(self.target)
        if previous is None and any(rows_of(table, self.target).exists() for table in self.owned):
            raise MoveRefused(
                f"{self.name}'s tables in {self.target!r} hold rows already, and no move put "
                "them there: is it the right database? Empty them, or point "
                f"{database_variable(self.name)} at a new one"
            )
        triggers.thaw(self.target, self.owned)  # frozen by a move back, if there was one
        self.copier.reset()
        self._moves = {
            alias: ModuleMove.objects.using(alias).create(
                module=self.name, source=self.source, state=MoveState.COPYING, online=online
            )
            for alias in (self.target, self.source)
        }
        self.progress(f"moving {self.name} from {self.source!r} to {self.target!r}")

    def _resume(self, current: ModuleMove) -> None:
        """Goes on with the move the target records (the source records it too, unless its
        record was lost: then it records it again)."""
        found = self.state(self.source)
        if found is None:
            found = ModuleMove.objects.using(self.source).create(
                module=self.name, source=self.source, state=current.state, online=current.online
            )
        self._moves = {self.target: current, self.source: found}

    def _freeze(self) -> None:
        triggers.freeze(self.source, self.name, self.owned)
        if not self._moves[self.target].frozen_at:
            self._record(frozen_at=timezone.now())
        self.progress(f"froze {self.name}'s tables in {self.source!r}: they take no writes now")

    def _catch_up_until_settled(self) -> None:
        for _ in range(MAX_CATCH_UPS):
            if self.copier.catch_up() <= SETTLED:
                return

    def _reset_sequences(self, alias: str) -> None:
        """PostgreSQL's sequences start after the rows copied with their keys."""
        connection = connections[alias]
        models = [table.model for table in self.tables]
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    # Drop, give up, go back.

    def drop(self) -> None:
        """Drops the module's tables, and its rows of the bus's tables, from the database it
        moved from: only after its cut-over, never as part of it."""
        current = self.state(self.target)
        if current is None or current.state != MoveState.CUT_OVER:
            state = current.state if current else "never moved"
            raise MoveRefused(
                f"{self.name} has no old copy to drop in {self.source!r} ({state}): only a "
                f"move that was cut over leaves one"
            )
        self._resume(current)
        connection = connections[self.source]
        existing = set(connection.introspection.table_names())
        with connection.schema_editor(atomic=True) as editor:
            for table in reversed(self.owned):
                model = table.model
                if not model._meta.auto_created and table.name in existing:
                    editor.delete_model(model)  # its many-to-many tables too
        with transaction.atomic(using=self.source):
            for table in reversed(self.bus_tables):
                delete_rows(table, self.source, keys_of(table, self.source))
            CapturedChange.objects.using(self.source).filter(module=self.name).delete()
        self._record(state=MoveState.DROPPED, finished_at=timezone.now())

    def abort(self) -> None:
        """Gives up a move before its cut-over: the source takes writes again, as it was."""
        current = self.state(self.target)
        if current is not None and current.state in {MoveState.CUT_OVER, MoveState.DROPPED}:
            raise MoveRefused(
                f"{self.name} was cut over to {self.target!r} already: to go back, run "
                f"manage.py movedata {self.name} --back"
            )
        triggers.stop_capture(self.source, self.owned)
        triggers.thaw(self.source, self.owned)
        CapturedChange.objects.using(self.source).filter(module=self.name).delete()
        if current is not None:
            self._resume(current)
            self.copier.reset()
            self._record(state=MoveState.ABORTED, finished_at=timezone.now())

    def back(self) -> MoveReport:
        """Goes back after the cut-over (before the old copy is dropped): the module's own
        database takes no writes from now on, and what it holds is copied back over the old
        copy, which takes writes again."""
        started = time.monotonic()
        current = self.state(self.target)
        if current is None or current.state not in {MoveState.CUT_OVER, MoveState.GOING_BACK}:
            state = current.state if current else "never moved"
            raise MoveRefused(
                f"{self.name} has no cut-over to go back from ({state}); before the cut-over, "
                f"give the move up with manage.py movedata {self.name} --abort"
            )
        self._resume(current)
        returning = Copier(
            self.name,
            self.target,
            self.source,
            self.owned,
            batch_size=self.copier.batch_size,
            progress=self.progress,
        )
        triggers.freeze(self.target, self.name, self.owned)
        if current.state == MoveState.CUT_OVER:
            triggers.thaw(self.source, self.owned)
            returning.reset()
            self._record(state=MoveState.GOING_BACK)
        schema.stop_checking_foreign_keys(self.source)
        returning.copy()
        copy_whole(self.bus_tables, self.target, self.source)
        schema.add_foreign_keys(self.name, self.source)
        report = MoveReport(tables=self.verify())
        self._reset_sequences(self.source)
        self._record(state=MoveState.BACK, finished_at=timezone.now())
        report.seconds = time.monotonic() - started
        return report


def copy_whole(tables: list[MovedTable], source: str, target: str) -> None:
    """The moving rows of these tables in `target` become those of `source`, in one
    transaction."""
    with transaction.atomic(using=target):
        for table in reversed(tables):
            delete_rows(table, target, keys_of(table, target))
        for table in tables:
            write_rows(table, target, list(rows_of(table, source)))
