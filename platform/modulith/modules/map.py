"""The module map: the topology as plain text, a Mermaid flowchart or a Graphviz digraph.

Everything comes from the manifests, so the map shows every module, also those not running in
this process. The functions are pure and sort what they render: the same manifests always give
the same output, which can be committed and checked for staleness.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modulith.contracts.evolution import current_major, readable_from
from modulith.modules import Module, Topology
from modulith.modules.errors import ConfigurationError

MARKDOWN_COMMAND = "python manage.py modules --format markdown"


@dataclass(frozen=True)
class EventFlow:
    """One event from its publisher to one subscriber, and the subscriber's handlers."""

    event: str
    publisher: str
    subscriber: str
    handlers: tuple[str, ...]


@dataclass(frozen=True, order=True)
class ForeignFlow:
    """One event a subscriber accepts from a producer outside the application, by the source
    that producer's events carry."""

    event: str
    source: str
    subscriber: str


@dataclass(frozen=True)
class PortUse:
    """A module calling a query port; `provider` is None when no module provides it."""

    port: str
    user: str
    provider: str | None


def modules(topology: Topology) -> list[Module]:
    return sorted(topology.modules, key=lambda module: module.name)


def published_events(topology: Topology) -> list[tuple[str, str]]:
    """(event, publisher) for every published event, by event name."""
    return sorted((e.event_name, m.name) for m in topology.modules for e in m.publishes)


def event_flows(topology: Topology) -> list[EventFlow]:
    return [
        EventFlow(event, publisher, subscriber.name, subscriber.handlers_for(event))
        for event, publisher in published_events(topology)
        for subscriber in sorted(topology.subscribers_of(event), key=lambda m: m.name)
    ]


def foreign_flows(topology: Topology) -> list[ForeignFlow]:
    return sorted(
        ForeignFlow(event_type.event_name, source, module.name)
        for module in topology.modules
        for event_type in module.accepts_from
        for source in module.foreign_sources(event_type.event_name)
    )


def port_uses(topology: Topology) -> list[PortUse]:
    uses = [
        PortUse(port.__name__, module.name, _provider_name(topology, port))
        for module in topology.modules
        for port in module.uses
    ]
    return sorted(uses, key=lambda use: (use.port, use.user))


def text(topology: Topology) -> str:
    flows, uses = event_flows(topology), port_uses(topology)
    lines = [f"Modules: {', '.join(m.name for m in modules(topology))}"]
    for module in modules(topology):
        lines += ["", f"Module {module.name}", *_module_lines(topology, module)]
    lines += ["", "Events (version; publisher -> subscribers)"]
    for event, publisher in published_events(topology):
        subscribers = ", ".join(flow.subscriber for flow in flows if flow.event == event)
        version = version_label(topology.event_type(event))
        lines.append(f"  {event} {version}: {publisher} -> {subscribers or '(no subscribers)'}")
    if foreign := foreign_flows(topology):
        lines += ["", "Events from outside (source -> subscriber)"]
        lines += [f"  {flow.event}: {flow.source} -> {flow.subscriber}" for flow in foreign]
    lines += ["", "Query ports (user -> provider)"]
    lines += [f"  {u.port}: {u.user} -> {u.provider or '(no provider)'}" for u in uses]
    if not uses:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def mermaid(topology: Topology) -> str:
    foreign = foreign_flows(topology)
    lines = ["flowchart LR"]
    lines += [f"    {m.name}[{m.name}]" for m in modules(topology)]
    lines += [
        f'    {_source_node(source)}(["{source}"])'
        for source in sorted({flow.source for flow in foreign})
    ]
    lines += [f"    {f.publisher} -->|{f.event}| {f.subscriber}" for f in event_flows(topology)]
    lines += [f"    {_source_node(f.source)} ==>|{f.event}| {f.subscriber}" for f in foreign]
    lines += [
        f"    {u.user} -.->|{u.port}| {u.provider}" for u in port_uses(topology) if u.provider
    ]
    return "\n".join(lines) + "\n"


def dot(topology: Topology) -> str:
    lines = ["digraph modules {", "    rankdir=LR;", "    node [shape=box];"]
    lines += [f"    {_quote(m.name)};" for m in modules(topology)]
    foreign = foreign_flows(topology)
    lines += [
        f"    {_quote(source)} [shape=ellipse, style=dashed];"
        for source in sorted({flow.source for flow in foreign})
    ]
    lines += [
        f"    {_quote(f.publisher)} -> {_quote(f.subscriber)} [label={_quote(f.event)}];"
        for f in event_flows(topology)
    ]
    lines += [
        f"    {_quote(f.source)} -> {_quote(f.subscriber)} [label={_quote(f.event)}, style=bold];"
        for f in foreign
    ]
    lines += [
        f"    {_quote(u.user)} -> {_quote(u.provider)} [label={_quote(u.port)}, style=dashed];"
        for u in port_uses(topology)
        if u.provider
    ]
    return "\n".join([*lines, "}"]) + "\n"


def markdown(topology: Topology) -> str:
    """The page committed as the project's module map: the diagram, then the text form."""
    return (
        f"<!-- Generated by `{MARKDOWN_COMMAND}`. Do not edit: change the manifests and "
        "run the command again. -->\n"
        "# Module map\n\n"
        "Every module, the events it publishes and handles, and the query ports it provides "
        "and uses, as declared in the module manifests. Solid arrows are events (publisher to "
        "subscriber), thick arrows events a module accepts from a producer outside the "
        "application (by the source its events must carry), dotted arrows query ports (user to "
        "provider).\n\n"
        f"```mermaid\n{mermaid(topology)}```\n\n"
        f"```text\n{text(topology)}```\n"
    )


FORMATS: dict[str, Callable[[Topology], str]] = {
    "text": text,
    "mermaid": mermaid,
    "dot": dot,
    "markdown": markdown,
}


def _module_lines(topology: Topology, module: Module) -> list[str]:
    handles = [
        f"{event} from {_publisher_name(topology, event)}: {', '.join(module.handlers_for(event))}"
        for event in sorted(module.handled_event_names)
    ]
    accepts = sorted(
        f"{event_type.event_name} from {', '.join(module.foreign_sources(event_type.event_name))}"
        for event_type in module.accepts_from
    )
    provides = sorted(f"{port.__name__}: {path}" for port, path in module.provides.items())
    uses = sorted(
        f"{port.__name__} from {_provider_name(topology, port) or '(no provider)'}"
        for port in module.uses
    )
    publishes = sorted(event.event_name for event in module.publishes)
    return [
        *_field("publishes", [", ".join(publishes)] if publishes else []),
        *_field("handles", handles),
        *_field("accepts", accepts),
        *_field("provides", provides),
        *_field("uses", uses),
    ]


def version_label(event_type: Any) -> str:
    """`3.0`, with the oldest major version its subscribers read (through its upcasters) and
    the names it had before: `3.0 (reads 1.x up; formerly OrderSubmitted to 1.x)`."""
    notes = []
    if (oldest := readable_from(event_type)) < current_major(event_type):
        notes.append(f"reads {oldest}.x up")
    if event_type.former_names:
        formerly = ", ".join(f"{n} to {v}.x" for n, v in sorted(event_type.former_names.items()))
        notes.append(f"formerly {formerly}")
    version: str = event_type.schema_version
    return version + (f" ({'; '.join(notes)})" if notes else "")


def _field(label: str, values: list[str]) -> list[str]:
    """`label` and its first value on one line, further values aligned below it."""
    first, *rest = values or ["-"]
    return [f"  {label:<10} {first}", *(f"  {'':<10} {value}" for value in rest)]


def _publisher_name(topology: Topology, event: str) -> str:
    return topology.publisher_of(event).name if topology.is_published(event) else "outside"


def _source_node(source: str) -> str:
    """A Mermaid node id for a source (its label keeps the source as written)."""
    return "source_" + "".join(c if c.isalnum() else "_" for c in source)


def _provider_name(topology: Topology, port: type[Any]) -> str | None:
    try:
        return topology.provider_of(port)[0].name
    except ConfigurationError:
        return None


def _quote(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
