"""modulith.E005: each event a running module handles is published by a module of the
topology, running here or not. Events are parsed with the schema of the module that publishes
them, so a foreign producer's events (`aws events put-events`) are handled only under the name
of an event a module publishes; a handler of any other name would never run."""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error

from modulith.checks.scope import current_topology, modules_to_check
from modulith.modules import Module, Topology


def check_events(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    return event_errors(current_topology(), modules_to_check(app_configs))


def event_errors(topology: Topology, modules: Iterable[Module]) -> list[CheckMessage]:
    published = {event.event_name for other in topology.modules for event in other.publishes}
    return [
        Error(
            f"{module.name} handles {event_type.event_name}, which no module publishes",
            hint=(
                f"Add {event_type.__name__} to the publishes of the module that sends it, or "
                f"remove its handler from {module.name}'s manifest."
            ),
            obj=module.name,
            id="modulith.E005",
        )
        for module in modules
        for event_type in module.handles
        if event_type.event_name not in published
    ]
