"""The checks of how events evolve (`modulith.contracts.evolution`).

- modulith.E040: an event of the topology declares its evolution wrongly: a gap in its chain of
  upcasters or downcasters, a step keyed by a version that cannot have one, a former name that
  is no other name or lasted to no earlier version. A gap would dead-letter every event of the
  versions before it.
- modulith.E041: MODULITH_PUBLISH_VERSIONS asks a running module to publish an event as a
  version it cannot: an event it does not publish, a version above the contract's, or one no
  chain of downcasters leads to.
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error

from modulith.conf import modulith_settings
from modulith.contracts.evolution import current_major, evolution_problems
from modulith.modules import Topology
from modulith.modules.checks.scope import current_topology, modules_to_check


def check_versions(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    topology = current_topology()
    running = {event.event_name for m in modules_to_check(app_configs) for event in m.publishes}
    return evolution_errors(topology) + publish_version_errors(
        topology, modulith_settings().publish_versions, running
    )


def evolution_errors(topology: Topology) -> list[CheckMessage]:
    event_types = {
        event_type
        for module in topology.modules
        for event_type in (*module.publishes, *module.handles, *module.accepts_from)
    }
    return [
        Error(
            problem,
            hint="Steps are keyed by the older of the two versions they join: upcasters[1] "
            "turns version 1 into 2, downcasters[1] turns 2 into 1 (docs/architecture.md, "
            '"Evolving an event").',
            obj=event_type.__name__,
            id="modulith.E040",
        )
        for event_type in sorted(event_types, key=lambda each: each.event_name)
        for problem in evolution_problems(event_type)
    ]


def publish_version_errors(
    topology: Topology, versions: dict[str, int], running: set[str]
) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, version in sorted(versions.items()):
        event_type = topology.event_type(name) if topology.is_published(name) else None
        if event_type is None or event_type.event_name != name:
            problem = f"MODULITH_PUBLISH_VERSIONS names {name}, which no module publishes"
        elif name not in running:
            continue  # published by a module that does not run here
        elif version > current_major(event_type):
            problem = (
                f"MODULITH_PUBLISH_VERSIONS asks for {name} version {version}, above its "
                f"contract's {event_type.schema_version}"
            )
        else:
            problem = _downcast_problem(event_type, version)
        if problem:
            errors.append(
                Error(
                    problem,
                    hint="Publish a version the contract's downcasters lead to, or remove "
                    f"{name} from MODULITH_PUBLISH_VERSIONS once every consumer reads "
                    "the current one.",
                    obj=name,
                    id="modulith.E041",
                )
            )
    return errors


def _downcast_problem(event_type: Any, version: int) -> str:
    missing = [
        s for s in range(version, current_major(event_type)) if s not in event_type.downcasters
    ]
    if not missing:
        return ""
    return (
        f"MODULITH_PUBLISH_VERSIONS asks for {event_type.event_name} version {version}, but "
        f"it has no downcaster between versions {missing[-1] + 1} and {missing[-1]} "
        f"(declare downcasters[{missing[-1]}] on {event_type.__name__})"
    )
