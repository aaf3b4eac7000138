"""The checks of the events a running module handles, and of whom it believes them from.

- modulith.E005: each handled event is published by a module of the topology (running here or
  not), or accepted from producers outside the application (`accepts_from`): a handler of any
  other name would never run.
- modulith.E020-E023: what `accepts_from` declares. A foreign source must be one EventBridge
  takes and no module's own (a declaration cannot let outsiders speak for a module); the
  module must handle what it accepts; and an event name has one schema: the class a module
  accepts must be the one its publisher publishes, or the one every other module accepts.
"""

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error

from modulith.modules import Module, Topology
from modulith.modules.checks.scope import current_topology, modules_to_check

# EventBridge's limit on a source; `aws.` starts only AWS services' sources.
MAX_SOURCE_LENGTH = 256
_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")


def check_events(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    topology = current_topology()
    modules = modules_to_check(app_configs)
    return event_errors(topology, modules) + foreign_source_errors(topology, modules)


def event_errors(topology: Topology, modules: Iterable[Module]) -> list[CheckMessage]:
    published = {event.event_name for other in topology.modules for event in other.publishes}
    return [
        Error(
            f"{module.name} handles {event_type.event_name}, which no module publishes and "
            f"{module.name} accepts from no producer outside",
            hint=(
                f"Add {event_type.__name__} to the publishes of the module that sends it, "
                f"declare the producer outside in {module.name}'s accepts_from "
                f'({{{event_type.__name__}: "<its source>"}}), or remove the handler.'
            ),
            obj=module.name,
            id="modulith.E005",
        )
        for module in modules
        for event_type in module.handles
        if event_type.event_name not in published
        and not module.foreign_sources(event_type.event_name)
    ]


def foreign_source_errors(topology: Topology, modules: Iterable[Module]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for module in modules:
        for event_type in module.accepts_from:
            name = event_type.event_name
            errors += [
                _bad_source(module, name, source, topology)
                for source in module.foreign_sources(name)
                if _source_problem(source, topology)
            ]
            if not module.handlers_for(name):
                errors.append(
                    Error(
                        f"{module.name} accepts {name} from outside but has no handler for it",
                        hint=f"Add a handler of {event_type.__name__} to {module.name}'s "
                        "handles, or remove it from accepts_from.",
                        obj=module.name,
                        id="modulith.E022",
                    )
                )
            if (schema := _schema_of(topology, module, event_type)) is not None:
                errors.append(schema)
    return errors


def _source_problem(source: Any, topology: Topology) -> str:
    if source in topology.module_sources:
        return "impersonates"
    if (
        not isinstance(source, str)
        or len(source) > MAX_SOURCE_LENGTH
        or not _SOURCE.fullmatch(source)
        or source.startswith("aws.")
    ):
        return "invalid"
    return ""


def _bad_source(module: Module, name: str, source: Any, topology: Topology) -> CheckMessage:
    if _source_problem(source, topology) == "impersonates":
        return Error(
            f"{module.name} accepts {name} from {source}, the source of a module of this "
            "application: only that module's own events may carry it",
            hint="Name the producer outside by a source of its own (e.g. partner.checkout); "
            "it must not speak for a module.",
            obj=module.name,
            id="modulith.E021",
        )
    return Error(
        f"{module.name} accepts {name} from {source!r}, which is not a source an event can carry",
        hint=f"A source is 1 to {MAX_SOURCE_LENGTH} characters of letters, digits and . _ / : - "
        "starting with a letter or digit, and not aws. (kept for AWS services), e.g. "
        "partner.checkout.",
        obj=module.name,
        id="modulith.E020",
    )


def _schema_of(topology: Topology, module: Module, event_type: type[Any]) -> CheckMessage | None:
    """An error when the class differs from the one the event name is read with."""
    schema = topology.event_type(event_type.event_name)
    if schema is event_type:
        return None
    whose = (
        f"{topology.publisher_of(event_type.event_name).name} publishes it"
        if topology.is_published(event_type.event_name)
        else "another module accepts it"
    )
    return Error(
        f"{module.name} accepts {event_type.event_name} as {_path(event_type)}, but "
        f"{whose} as {_path(schema)}: an event has one schema",
        hint="Name the same contract class in accepts_from and handles as the publisher's "
        "(or the other module's) manifest.",
        obj=module.name,
        id="modulith.E023",
    )


def _path(event_type: type[Any] | None) -> str:
    return f"{event_type.__module__}.{event_type.__qualname__}" if event_type else "nothing"
