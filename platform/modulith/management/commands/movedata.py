import signal
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.conf import database_variable
from modulith.datamove import Move, MoveReport, MoveState
from modulith.errors import ConfigurationError
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Moves a module from the shared database its manifest places it in to its own (run "
        "with <MODULE>_DATABASE_URL set, as its processes will run afterwards): copies every "
        "table it owns in batches, verifies each table's count and checksum in both databases, "
        "and cuts over, freezing its old tables. Run it again after a crash: it goes on where "
        "it stopped. --online copies while the source takes writes and freezes them only for "
        "the last catch-up. The old copy is dropped by --drop, a step of its own."
    )
    # The checks would refuse exactly what this command is for (a module whose rows are not
    # in its new database yet): it checks what it needs itself.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("module")
        actions = parser.add_mutually_exclusive_group()
        actions.add_argument(
            "--online",
            action="store_true",
            help="copy while the source takes writes; freeze only for the last catch-up",
        )
        actions.add_argument("--status", action="store_true", help="where the move stands")
        actions.add_argument(
            "--drop", action="store_true", help="drop the old copy (after the cut-over)"
        )
        actions.add_argument(
            "--abort", action="store_true", help="give the move up (before the cut-over)"
        )
        actions.add_argument(
            "--back",
            action="store_true",
            help="go back after the cut-over: copy the module's data back to the old copy",
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="rows a batch")

    def handle(
        self,
        *args: Any,
        module: str,
        online: bool,
        status: bool,
        drop: bool,
        abort: bool,
        back: bool,
        batch_size: int,
        **options: Any,
    ) -> None:
        signal.signal(signal.SIGTERM, _interrupted)
        try:
            move = Move(runtime().topology, module, batch_size=batch_size, progress=self._line)
            if status:
                self._status(move)
            elif drop:
                move.drop()
                self._line(f"dropped {module}'s old tables and rows from {move.source!r}")
            elif abort:
                move.abort()
                self._line(f"gave up {module}'s move: {move.source!r} takes its writes again")
            elif back:
                self._done(move, move.back(), "moved back to", move.source)
            else:
                self._done(move, move.run(online=online), "moved to", move.target)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None

    def _line(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _done(self, move: Move, report: MoveReport, what: str, where: str) -> None:
        rows = sum(total.rows for total in report.tables.values())
        variable = database_variable(move.name)
        self._line(
            f"{move.name} {what} {where!r}: {len(report.tables)} tables, {rows} rows, counts "
            f"and checksums equal, in {report.seconds:.1f} s"
            + (f"; writes frozen {report.frozen_seconds:.1f} s" if report.frozen_seconds else "")
        )
        if where == move.target:
            self._line(
                f"Run {move.name}'s processes with {variable} set, as this one; its old tables "
                f"in {move.source!r} take no writes. Later: manage.py movedata {move.name} --drop"
            )
        else:
            self._line(f"Run {move.name}'s processes without {variable}.")

    def _status(self, move: Move) -> None:
        for alias in (move.target, move.source):
            found = move.state(alias)
            if found is None:
                self._line(f"{alias}: no move of {move.name} recorded")
                continue
            self._line(
                f"{alias}: {found.state}, started {found.started_at:%Y-%m-%d %H:%M:%S}"
                + (f", cut over {found.cut_over_at:%Y-%m-%d %H:%M:%S}" if found.cut_over_at else "")
            )
            if alias == move.target and found.state == MoveState.CUT_OVER:
                for table, summed in sorted(found.tables.items()):
                    self._line(
                        f"  {table}: {summed['rows']} rows, checksum {summed['checksum'][:16]}"
                    )


def _interrupted(*_: object) -> NoReturn:
    raise CommandError("interrupted: run the same command again to go on where it stopped")
