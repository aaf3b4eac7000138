"""modulith.E032, E033, E034, E035, W031, W032: a module's data is where the module runs.

A module whose manifest places it in a shared database runs on its own once the deployment
gives it one (`<MODULE>_DATABASE_URL`). Its rows must have been moved there (`manage.py
movedata`), or every one of them is silently gone: E032 while its tables hold rows in the
database it left and no finished move put them in its own. A process that still runs it on
the shared database after the cut-over reads a frozen, stale copy: E033. Once moved, the old
copy stays (frozen) for a rollback until dropped: W031. A shared database where the bus's
migrations are recorded as applied but its tables are missing (`migrate` ran while the router
kept them out) would lose every event published there: E034. A module on its own database
whose migrations, replayed on a new one, make relations to tables that are not there cannot get
a test database or another environment: E035. These look at the databases;
where one cannot be read, W032 says so rather than stopping the command.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning
from django.db import DatabaseError, connections
from django.db.migrations.recorder import MigrationRecorder

from modulith.checks.scope import modules_to_check
from modulith.conf import database_variable
from modulith.datamove.models import MoveState, latest_move
from modulith.datamove.rows import rows_of
from modulith.datamove.schema import replayed_ties
from modulith.datamove.tables import moved_tables
from modulith.modules import Module


def check_moves(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    return move_messages(modules_to_check(app_configs))


def move_messages(modules: Iterable[Module]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    looked_at: set[str] = set()  # the bus's tables, once per database
    for module in modules:
        try:
            if module.moved_from:
                messages += _replayable(module) + _moved(module)
            elif module.shares_database:
                if module.database not in looked_at:
                    looked_at.add(module.database)
                    messages += _bus_tables(module)
                messages += _left_behind(module)
        except DatabaseError as error:
            messages.append(
                Warning(
                    f"cannot tell where {module.name}'s data is: {error}".strip(),
                    hint="Check that its databases answer; the checks of its data did not run.",
                    obj=module.name,
                    id="modulith.W032",
                )
            )
    return messages


def _moved(module: Module) -> list[CheckMessage]:
    """It runs on its own database, and left a shared one."""
    source, target = module.moved_from, module.database
    move = latest_move(target, module.name)
    variable = database_variable(module.name)
    if move is None or move.state == MoveState.ABORTED:
        held = _rows_held(module, source)
        if not held:
            return []
        return [
            Error(
                f"{module.name} runs on its own database {target!r} ({variable}), but its rows "
                f"are in {source!r} ({held}), and no move put them in {target!r}: to it, they "
                "are gone",
                hint=(
                    f"Move them: manage.py movedata {module.name} (with {variable} set, as "
                    f"now). Or unset {variable} to run {module.name} on {source!r} again."
                ),
                obj=module.name,
                id="modulith.E032",
            )
        ]
    if move.state in {MoveState.COPYING, MoveState.GOING_BACK}:
        going = "back" if move.state == MoveState.GOING_BACK else ""
        return [
            Error(
                f"{module.name}'s move {going + ' ' if going else ''}from {source!r} to "
                f"{target!r} is not finished: its data is in neither whole",
                hint=(
                    f"Finish it: manage.py movedata {module.name}"
                    + (" --back" if going else "")
                    + (
                        f", or give it up: manage.py movedata {module.name} --abort"
                        if not going
                        else ""
                    )
                    + "."
                ),
                obj=module.name,
                id="modulith.E032",
            )
        ]
    if move.state == MoveState.BACK:
        return [
            Error(
                f"{module.name} was moved back from {target!r} to {source!r} "
                f"({move.finished_at:%Y-%m-%d %H:%M}), but runs on {target!r} ({variable})",
                hint=f"Unset {variable}: its data is in {source!r}.",
                obj=module.name,
                id="modulith.E032",
            )
        ]
    missing = _missing_tables(module, target)
    if missing:
        return [
            Error(
                f"{module.name}'s tables {', '.join(missing)} are missing from its database "
                f"{target!r}, where its move put them",
                hint=f"Is {variable} the database the move went to?",
                obj=module.name,
                id="modulith.E032",
            )
        ]
    if move.state == MoveState.CUT_OVER:
        return [
            Warning(
                f"{module.name}'s old tables stay in {source!r}, frozen, since its move "
                f"({move.cut_over_at:%Y-%m-%d %H:%M})",
                hint=(
                    f"They are there to go back (manage.py movedata {module.name} --back). "
                    f"Once sure, drop them: manage.py movedata {module.name} --drop."
                ),
                obj=module.name,
                id="modulith.W031",
            )
        ]
    return []


def _replayable(module: Module) -> list[CheckMessage]:
    replayed = replayed_ties(module.name)
    if not replayed:
        return []
    return [
        Error(
            f"{module.name}'s migrations, on a new database, make relations to tables that are "
            f"not there: {'; '.join(replayed)}",
            hint=(
                f"Squash them now that its ties are gone: manage.py squashmigrations "
                f"{module.name} <its last migration>. A new database (its tests', another "
                "environment's) then gets its tables as they are."
            ),
            obj=module.name,
            id="modulith.E035",
        )
    ]


def _left_behind(module: Module) -> list[CheckMessage]:
    """It runs on the shared database: was it moved out of it?"""
    move = latest_move(module.database, module.name)
    if move is None or move.state not in {MoveState.CUT_OVER, MoveState.DROPPED}:
        return []
    variable = database_variable(module.name)
    left = "a frozen copy is" if move.state == MoveState.CUT_OVER else "nothing is"
    return [
        Error(
            f"{module.name} was moved out of {module.database!r} to its own database "
            f"({move.cut_over_at:%Y-%m-%d %H:%M}); {left} left here, yet this process runs it here",
            hint=f"Set {variable} to its database, as the move's own process had it.",
            obj=module.name,
            id="modulith.E033",
        )
    ]


def _bus_tables(module: Module) -> list[CheckMessage]:
    """The bus's tables are in the shared database, or its migrations are not applied yet."""
    alias = module.database
    recorded = MigrationRecorder(connections[alias])
    if not recorded.has_table():
        return []
    applied = {name for app, name in recorded.applied_migrations() if app == "modulith"}
    existing = set(connections[alias].introspection.table_names())
    missing = [t.name for t in moved_tables(module) if not t.owned and t.name not in existing]
    if not applied or not missing:
        return []
    return [
        Error(
            f"the bus's tables {', '.join(missing)} are missing from {alias!r}, where "
            f"{module.name} lives, though their migrations are recorded as applied there",
            hint=(
                f"Record them as not applied, then apply them: manage.py migrate modulith zero "
                f"--fake --skip-checks --database {alias}; manage.py migrate --database {alias}."
            ),
            obj=module.name,
            id="modulith.E034",
        )
    ]


def _rows_held(module: Module, alias: str) -> str:
    """Which of the module's tables hold rows in `alias` ("" for none)."""
    existing = set(connections[alias].introspection.table_names())
    held = [
        table.name
        for table in moved_tables(module)
        if table.owned and table.name in existing and rows_of(table, alias).exists()
    ]
    return ", ".join(held)


def _missing_tables(module: Module, alias: str) -> list[str]:
    existing = set(connections[alias].introspection.table_names())
    return [t.name for t in moved_tables(module) if t.owned and t.name not in existing]
