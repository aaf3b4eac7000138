"""The checks of what each running module's manifest names: its handlers, providers and API
import and are what they should be (imports.py), and each provider fits its port (ports.py)."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage

from modulith.modules import Module
from modulith.modules.checks.imports import API, HANDLER, PROVIDER, resolve
from modulith.modules.checks.ports import port_errors
from modulith.modules.checks.scope import modules_to_check


def check_manifests(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    return manifest_errors(modules_to_check(app_configs))


def manifest_errors(modules: Iterable[Module]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for module in modules:
        for event_type in module.handles:
            for path in module.handlers_for(event_type.event_name):
                errors += resolve(module, f"handles {event_type.__name__} with", path, HANDLER)[1]
        for port, path in module.provides.items():
            provider, unusable = resolve(module, f"provides {port.__name__} with", path, PROVIDER)
            errors += unusable or port_errors(module, port, path, provider)
        if module.api:
            errors += resolve(module, "serves its API from", module.api, API)[1]
    return errors
