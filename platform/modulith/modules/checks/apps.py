"""modulith.E006, E007: each running module's Django app is installed, with the module's name
as its label (the label is how its models find the module's database)."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core.checks import CheckMessage, Error

from modulith.modules import Module
from modulith.modules.checks.scope import modules_to_check


def check_apps(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    return app_errors(modules_to_check(app_configs))


def app_errors(modules: Iterable[Module]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for module in modules:
        config = app_config_of(module)
        if config is None:
            errors.append(
                Error(
                    f"{module.name}'s app {module.app} is not in INSTALLED_APPS",
                    hint=f"Add {module.app!r} to INSTALLED_APPS: every running module's app is.",
                    obj=module.name,
                    id="modulith.E006",
                )
            )
        elif config.label != module.name:
            errors.append(
                Error(
                    f"{module.name}'s app {module.app} has the label {config.label!r}",
                    hint=(
                        f"Set label = {module.name!r} in its AppConfig: a module's app label is "
                        "its name."
                    ),
                    obj=module.name,
                    id="modulith.E007",
                )
            )
    return errors


def app_config_of(module: Module) -> AppConfig | None:
    """The installed app the manifest names, by package or by AppConfig class."""
    return next(
        (
            config
            for config in apps.get_app_configs()
            if module.app in {config.name, f"{type(config).__module__}.{type(config).__name__}"}
        ),
        None,
    )
