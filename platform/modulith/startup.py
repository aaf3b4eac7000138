"""What a manifest names, checked when the process starts: every handler, provider and router
of the modules running here imports, and each module's Django app carries the module's name
as its label. A typo is then one line at start, not a failed delivery or request later."""

from importlib import import_module

from django.apps import apps

from modulith.errors import ConfigurationError
from modulith.modules import Module, Topology


def check_running_modules(topology: Topology) -> None:
    """Raises ConfigurationError, naming the module, the path and the reason, at the first
    thing a running module's manifest names that cannot work."""
    for module in topology.running_modules:
        _check_app_label(module)
        for event_type in module.handles:
            for path in module.handlers_for(event_type.event_name):
                _check_imports(path, f"{module.name} handles {event_type.__name__} with {path}")
        for port, path in module.provides.items():
            _check_imports(path, f"{module.name} provides {port.__name__} with {path}")
        if module.api:
            _check_imports(module.api, f"{module.name} serves its API from {module.api}")


def _check_imports(path: str, what: str) -> None:
    module_path, _, name = path.rpartition(".")
    if not module_path:
        raise ConfigurationError(f"{what}, which is not a dotted path (package.module.name)")
    try:
        getattr(import_module(module_path), name)
    except Exception as error:  # whatever stops the import (a syntax error too), in one line
        reason = str(error)
        if not isinstance(error, ImportError | AttributeError):
            reason = f"{type(error).__name__}: {reason}"
        raise ConfigurationError(
            f"{what}, which cannot be imported: {' '.join(reason.split())}"
        ) from None


def _check_app_label(module: Module) -> None:
    config = next(
        (
            config
            for config in apps.get_app_configs()
            if module.app in {config.name, f"{type(config).__module__}.{type(config).__name__}"}
        ),
        None,
    )
    if config is None:
        raise ConfigurationError(
            f"{module.name}'s app {module.app} is not in INSTALLED_APPS: "
            "add the running modules' apps to INSTALLED_APPS"
        )
    if config.label != module.name:
        raise ConfigurationError(
            f"{module.name}'s app {module.app} has the label {config.label!r}: set "
            f"label = {module.name!r} in its AppConfig (a module's app label is its name)"
        )
