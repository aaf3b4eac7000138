"""modulith.E008, E009, E030: each running module has its database, and its models go there,
for reads, writes and migrations (DATABASE_ROUTERS, modulith.db.ModuleRouter); a module's own
database is not another alias's database under a second name. Otherwise its tables would land
in another database, and its transactions with its outbox would not hold."""

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.db import router
from django.db.models import Model

from modulith.checks.apps import app_config_of
from modulith.checks.scope import modules_to_check
from modulith.conf import database_variable
from modulith.modules import Module


def check_databases(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    return database_errors(modules_to_check(app_configs))


def database_errors(modules: Iterable[Module]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for module in modules:
        if module.database not in settings.DATABASES:
            errors.append(
                Error(
                    f"{module.name}'s database {module.database!r} is not in DATABASES",
                    hint=(
                        f"Add a DATABASES entry named {module.database!r}: a running module "
                        "lives in its own database, named after it, unless its manifest names "
                        "a shared one (database='default')."
                    ),
                    obj=module.name,
                    id="modulith.E008",
                )
            )
            continue
        errors += _same_database(module)
        config = app_config_of(module)
        models = config.get_models() if config and config.label == module.name else ()
        astray = [  # (a module whose app is missing or mislabelled has its own error)
            f"{model.__name__} {problem}"
            for model in models
            if (problem := _misrouting(model, module.database))
        ]
        if astray:
            errors.append(
                Error(
                    f"{module.name}'s models do not go to its database {module.database!r}: "
                    + "; ".join(astray),
                    hint=(
                        "Set DATABASE_ROUTERS = ['modulith.db.ModuleRouter'], or make your "
                        f"router send {module.name}'s models to {module.database!r}."
                    ),
                    obj=module.name,
                    id="modulith.E009",
                )
            )
    return errors


def _same_database(module: Module) -> list[CheckMessage]:
    """A module's own alias that reaches the database of another alias: each gets its own
    connection and its own migration records there, so `migrate` finds the module's
    migrations applied on one alias and creates its tables on neither."""
    if module.shares_database:
        return []
    mine = physical_database(settings.DATABASES[module.database])
    twins = [
        alias
        for alias, config in settings.DATABASES.items()
        if alias != module.database and physical_database(config) == mine
    ]
    if not twins:
        return []
    return [
        Error(
            f"{module.name}'s database {module.database!r} is the database of "
            f"{', '.join(map(repr, twins))} too: its tables and outbox would not be created",
            hint=(
                f"To keep {module.name} in that database, declare database={twins[0]!r} in "
                f"its manifest (and unset {database_variable(module.name)}); to move it, "
                "give it a database of its own."
            ),
            obj=module.name,
            id="modulith.E030",
        )
    ]


def physical_database(config: Mapping[str, Any]) -> tuple[str, ...]:
    """What tells one database from another, whatever alias reaches it."""
    engine, name = str(config.get("ENGINE", "")), str(config.get("NAME") or "")
    if engine.endswith("sqlite3"):
        return (engine, str(Path(name).resolve()) if name != ":memory:" else f"memory:{id(config)}")
    host = str(config.get("HOST") or "localhost")
    return (engine, host, str(config.get("PORT") or ""), name)


def _misrouting(model: type[Model], database: str) -> str:
    """What goes elsewhere than `database` of the model's reads, writes and migrations."""
    written, read = router.db_for_write(model), router.db_for_read(model)
    problems = [
        *([f"is written to {written!r}"] if written != database else []),
        *([f"is read from {read!r}"] if read != database else []),
        *(
            [f"does not migrate on {database!r}"]
            if not router.allow_migrate(
                database, model._meta.app_label, model_name=model._meta.model_name, model=model
            )
            else []
        ),
    ]
    return ", ".join(problems)
