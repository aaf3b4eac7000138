"""What a scenario's modules published: the events committed to their outboxes, as
instances of their contract classes."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from modulith.bus import Envelope
from modulith.contracts.evolution import current_major, major_of, upcast
from modulith.database.store.models import OutboxEvent
from modulith.database.store.ownership import events_of
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError


@dataclass(frozen=True)
class Published:
    event_id: UUID
    event: Any  # an instance of the event's contract class


def committed(topology: Topology) -> list[Published]:
    """Every event in the outboxes of the modules running here, oldest first."""
    rows = [
        row
        for module in topology.running_modules
        for row in OutboxEvent.objects.using(module.database)
        .filter(events_of(module))
        .values_list("created_at", "id", "wire")
    ]
    return [
        Published(event_id, _typed(topology, Envelope.from_wire(wire)))
        for _, event_id, wire in sorted(rows, key=lambda row: row[0])
    ]


def published_since(topology: Topology, before: frozenset[UUID]) -> list[Any]:
    """The events committed since `before` (the ids of those published by then)."""
    return [p.event for p in committed(topology) if p.event_id not in before]


def published_ids(topology: Topology) -> frozenset[UUID]:
    return frozenset(p.event_id for p in committed(topology))


def check_published_here(topology: Topology, event_type: type[Any]) -> None:
    """Raises unless a module running here publishes events of this type."""
    publisher = topology.publisher_of(event_name(event_type))
    if not topology.is_running(publisher.name):
        raise ConfigurationError(
            f"{event_name(event_type)} is published by {publisher.name}, which is absent from "
            f"this scenario of {', '.join(sorted(topology.running))}: nothing here publishes it"
        )


def event_name(event_type: type[Any]) -> str:
    return str(event_type.event_name)


def described(event: Any) -> str:
    """One line for a failure message: the event's name and its data as on the wire."""
    return f"{event.event_name} {event.model_dump_json(by_alias=True)}"


def _typed(topology: Topology, envelope: Envelope) -> Any:
    """The event as its subscribers read it: one published as an older version
    (MODULITH_PUBLISH_VERSIONS) is upcast to the contract's."""
    event_type = topology.event_type(envelope.event_name)
    if event_type is None:
        raise ConfigurationError(f"no module publishes an event named {envelope.event_name!r}")
    version = major_of(envelope.schema_version) or current_major(event_type)
    return event_type.model_validate(upcast(event_type, envelope.data, from_major=version))
