"""The module's tables in its new database, made from its models as they are now (its
migrations then recorded as applied there), and the bus's tables by their migrations.

Not by replaying the module's migrations: the first of them may still have a foreign key to a
table it no longer refers to (the tie its team removed since), which PostgreSQL refuses to
create in a database without that table. While rows are copied, foreign keys are not checked
(a row may arrive before the row it refers to, in batches or while catching up): on SQLite the
connection stops enforcing them, on PostgreSQL they are added once everything is there, first
NOT VALID (at once, under the freeze), then validated without stopping writes.
"""

import hashlib
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.db import connections, transaction
from django.db.backends.ddl_references import Statement
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddField, AlterField, CreateModel
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.models import Model

from modulith.db import FRAMEWORK_APP
from modulith.errors import ConfigurationError
from modulith.readiness import module_tables
from modulith.store.statements import quote


def check_migrations(app_label: str, source: str) -> None:
    """The module's models are what its migrations make, and those are applied on `source`:
    the tables made from the models are then the tables its migrations would have made."""
    loader = MigrationLoader(connections[source], ignore_no_migrations=True)
    changes = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(apps)).changes(
        graph=loader.graph, trim_to_apps={app_label}
    )
    if changes.get(app_label):
        raise ConfigurationError(
            f"{app_label}'s models have changes no migration makes: run makemigrations "
            f"{app_label} and migrate first"
        )
    missing = [
        name
        for (label, name) in loader.disk_migrations
        if label == app_label and (label, name) not in loader.applied_migrations
    ]
    if missing:
        raise ConfigurationError(
            f"{app_label}'s migrations {', '.join(sorted(missing))} are not applied on "
            f"{source!r}: migrate first"
        )


def replayed_ties(app_label: str) -> list[str]:
    """The relations to other apps' tables that the module's migrations make on a new database
    (a test database, another environment), where those tables are not: the first of them
    fails there on PostgreSQL, though a later migration removed it. Squashing the migrations
    once the ties are gone leaves none."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    graph = loader.graph
    plan = [
        node
        for leaf in graph.leaf_nodes(app_label)
        for node in graph.forwards_plan(leaf)
        if node[0] == app_label
    ]
    found = []
    for node in dict.fromkeys(plan):
        for operation in graph.nodes[node].operations:
            for model, name, field in _fields_made(operation):
                target = _label(getattr(field, "remote_field", None))
                if target and target != app_label and getattr(field, "db_constraint", True):
                    found.append(f"{node[1]}: {model}.{name} -> {field.remote_field.model}")
    return found


def create_tables(app_label: str, target: str) -> None:
    """The module's tables (from its models) and the bus's (by their migrations) in `target`,
    where they are not yet; on PostgreSQL without their foreign keys (see `add_foreign_keys`).

    The module's migrations, and those they depend on, are recorded as applied, as `migrate`
    itself records those of the apps the router keeps out of a database; then `migrate`
    makes the rest (the bus's tables)."""
    connection = connections[target]
    existing = set(connection.introspection.table_names())
    with connection.schema_editor(atomic=True) as editor:
        for model in _declared(app_label):
            if model._meta.db_table not in existing:
                editor.create_model(model)  # its many-to-many tables too
        if connection.vendor == "postgresql":
            editor.deferred_sql = [s for s in editor.deferred_sql if not _foreign_key(editor, s)]
    recorder = MigrationRecorder(connection)
    applied = recorder.applied_migrations()
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    for node in dict.fromkeys(
        node for leaf in graph.leaf_nodes(app_label) for node in graph.forwards_plan(leaf)
    ):
        # A squashed migration is applied where those it replaces are (as Django records it).
        for label, name in [node, *graph.nodes[node].replaces]:
            if label != FRAMEWORK_APP and (label, name) not in applied:
                recorder.record_applied(label, name)
    call_command("migrate", database=target, verbosity=0, interactive=False)


def stop_checking_foreign_keys(target: str) -> None:
    """On SQLite, this connection stops enforcing foreign keys until `add_foreign_keys`."""
    connection = connections[target]
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        connection.disable_constraint_checking()


def add_foreign_keys(app_label: str, target: str) -> None:
    """Every foreign key between the module's tables, checked or to be checked: on SQLite,
    enforced again and checked now; on PostgreSQL, added NOT VALID (no scan, no wait)."""
    connection = connections[target]
    tables = [model._meta.db_table for model in module_tables(app_label)]
    if connection.vendor == "sqlite":
        connection.enable_constraint_checking()
        connection.check_constraints(table_names=tables)
        return
    with transaction.atomic(using=target), connection.cursor() as cursor:
        for model, field in _foreign_keys(app_label):
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            if not any(
                c["foreign_key"] and c["columns"] == [field.column] for c in constraints.values()
            ):
                cursor.execute(_add_foreign_key(model, field))


def validate_foreign_keys(app_label: str, target: str) -> None:
    """On PostgreSQL, validates the foreign keys added NOT VALID: a scan that takes no lock
    writes wait for."""
    connection = connections[target]
    if connection.vendor != "postgresql":
        return
    tables = [model._meta.db_table for model in module_tables(app_label)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND NOT convalidated AND conrelid::regclass::text = ANY(%s)",
            [[quote(table) for table in tables] + tables],
        )
        for table, name in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {quote(name)}")


def _fields_made(operation: object) -> list[tuple[str, str, Any]]:
    """(model, field name, field) of each field an operation creates or changes."""
    if isinstance(operation, CreateModel):
        return [(operation.name, name, field) for name, field in operation.fields]
    if isinstance(operation, AddField | AlterField):
        return [(operation.model_name, operation.name, operation.field)]
    return []


def _label(remote: Any) -> str:
    """The app label of what a relation points at, whether a model or its name."""
    if remote is None:
        return ""
    model = remote.model
    if isinstance(model, str):
        return model.partition(".")[0].lower() if "." in model else ""
    return str(model._meta.app_label)


def _declared(app_label: str) -> list[type[Model]]:
    """The module's models that make tables, without the many-to-many tables their models
    make with them."""
    return [model for model in module_tables(app_label) if not model._meta.auto_created]


def _foreign_keys(app_label: str) -> Iterator[tuple[type[Model], Any]]:
    for model in module_tables(app_label):
        for field in model._meta.local_fields:
            if field.is_relation and field.concrete and getattr(field, "db_constraint", False):
                yield model, field


def _foreign_key(editor: Any, statement: object) -> bool:
    return isinstance(statement, Statement) and statement.template == editor.sql_create_fk


def _add_foreign_key(model: type[Model], field: Any) -> str:
    table, column = model._meta.db_table, field.column
    target = field.target_field
    digest = hashlib.sha1(f"{table}.{column}".encode(), usedforsecurity=False).hexdigest()[:16]
    return (
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(f'modulith_fk_{digest}')} "
        f"FOREIGN KEY ({quote(column)}) REFERENCES {quote(target.model._meta.db_table)} "
        f"({quote(target.column)}) DEFERRABLE INITIALLY DEFERRED NOT VALID"
    )
