"""What a check run looks at: the modules running in this process, or those of the apps that
`manage.py check <app_label>` names."""

from collections.abc import Sequence

from django.apps import AppConfig

from modulith.conf import modulith_settings
from modulith.modules import Module, Topology

TAG = "modulith"


def current_topology() -> Topology:
    return modulith_settings().topology


def modules_to_check(app_configs: Sequence[AppConfig] | None) -> tuple[Module, ...]:
    running = current_topology().running_modules
    if app_configs is None:
        return running
    named = {config.label for config in app_configs} | {config.name for config in app_configs}
    return tuple(module for module in running if {module.name, module.app} & named)
