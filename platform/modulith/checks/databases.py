"""modulith.E008, E009: each running module has its database, and its models go there, for
reads, writes and migrations (DATABASE_ROUTERS, modulith.db.ModuleRouter). Otherwise its
tables would land in another database, and its transactions with its outbox would not hold."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.db import router
from django.db.models import Model

from modulith.checks.apps import app_config_of
from modulith.checks.scope import modules_to_check
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
                        f"Add a DATABASES entry named {module.database!r}: each running module "
                        "has a database of its own, named after it."
                    ),
                    obj=module.name,
                    id="modulith.E008",
                )
            )
            continue
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
