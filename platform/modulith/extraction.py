"""What extracting a module into its own service changes, computed from the manifests."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.apps import apps

from modulith.conf import database_variable as database_variable  # where it is defined
from modulith.modules import Module, Topology
from modulith.readiness import module_tables


@dataclass(frozen=True)
class Crossing:
    """Something that starts crossing the network: an event, or a query call."""

    name: str
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.name}: {self.source} -> {self.target}"


@dataclass(frozen=True)
class ExtractionPlan:
    module: str
    events_out: list[Crossing]
    events_in: list[Crossing]
    calls_out: list[Crossing]
    calls_in: list[Crossing]
    tables: list[str]
    database_variable: str
    service_env: dict[str, str] = field(default_factory=dict)
    rest_env: dict[str, str] = field(default_factory=dict)


def extraction_plan(
    topology: Topology,
    module: str,
    *,
    service_url: str,
    rest_url: str,
    transport: str = "eventbridge",
) -> ExtractionPlan:
    extracted = topology.module(module)
    rest = [m for m in topology.modules if m.name != module]
    return ExtractionPlan(
        module=module,
        events_out=_events(topology, [extracted], rest),
        events_in=_events(topology, rest, [extracted]),
        calls_out=_calls(topology, [extracted], rest),
        calls_in=_calls(topology, rest, [extracted]),
        tables=_tables(extracted),
        database_variable=database_variable(module),
        service_env=service_environment(
            topology, [extracted], transport=transport, urls={m.name: rest_url for m in rest}
        ),
        rest_env=service_environment(
            topology, rest, transport=transport, urls={module: service_url}
        ),
    )


def service_environment(
    topology: Topology, modules: Iterable[Module], *, transport: str, urls: dict[str, str]
) -> dict[str, str]:
    """The environment of a service running `modules`: which modules, their databases, a
    queue transport, and where the providers of the ports it uses answer."""
    running = list(modules)
    names = {m.name for m in running}
    providers = sorted(
        {
            topology.provider_of(port)[0].name
            for module in running
            for port in module.uses
            if topology.provider_of(port)[0].name not in names
        }
    )
    env = {
        "MODULITH_MODULES": ",".join(m.name for m in running),
        "MODULITH_TRANSPORT": transport,
        **{database_variable(m.name): f"<{m.name} database URL>" for m in running},
    }
    if providers:
        env["MODULITH_SERVICE_URLS"] = ",".join(f"{p}={urls[p]}" for p in providers if p in urls)
        env["MODULITH_INTERNAL_SECRET"] = "<the same secret on every service>"
    if any(m.provides for m in running):
        env.setdefault("MODULITH_INTERNAL_SECRET", "<the same secret on every service>")
    return env


def _events(
    topology: Topology, publishers: list[Module], subscribers: list[Module]
) -> list[Crossing]:
    return sorted(
        (
            Crossing(event.event_name, publisher.name, subscriber.name)
            for publisher in publishers
            for event in publisher.publishes
            for subscriber in topology.subscribers_of(event.event_name)
            if subscriber in subscribers
        ),
        key=str,
    )


def _calls(topology: Topology, users: list[Module], providers: list[Module]) -> list[Crossing]:
    return sorted(
        (
            Crossing(port.__name__, user.name, topology.provider_of(port)[0].name)
            for user in users
            for port in user.uses
            if topology.provider_of(port)[0] in providers
        ),
        key=str,
    )


def _tables(module: Module) -> list[str]:
    """The module's tables (its many-to-many tables too), and the framework's own (outbox,
    deliveries, inbox), which live in every module database and move with it."""
    if not apps.is_installed(module.app):
        return []
    return sorted(m._meta.db_table for m in module_tables(module.name)) + sorted(
        m._meta.db_table for m in module_tables("modulith")
    )
