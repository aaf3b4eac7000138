"""Module manifests and the topology they describe.

A manifest names things by dotted path, so it imports no model, handler or view: every process
can compute who publishes and who subscribes, also for modules it does not run.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

from django.utils.module_loading import import_string

from modulith.contracts.evolution import answers_to, names_of
from modulith.modules.errors import ConfigurationError


@dataclass(frozen=True)
class Handler:
    """A handler a manifest names with options of its own: `handles={PaymentCaptured:
    Handler("modules.orders.handlers.on_payment_captured", concurrency=2)}`.

    `concurrency`: how many deliveries of it may run at once in one process (None: as many as
    the process's threads deliver). A delivery beyond the limit waits for a slot without
    taking a thread: the relay puts it back in the outbox, due again at once, attempts
    untouched; a queue consumer keeps the message, hidden, until a slot frees. So a handler
    that calls a slow gateway cannot take every delivery thread of a process. Each process
    counts its own: N processes run up to N times the limit.
    """

    path: str
    concurrency: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise ConfigurationError(
                f"Handler names a handler by its dotted path, not {self.path!r}"
            )
        limit = self.concurrency
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ConfigurationError(
                f"handler {self.path}: concurrency must be a whole number of at least 1 (how "
                f"many of its deliveries may run at once in one process) or None, not {limit!r}"
            )


HandlerSpec = str | Handler


@dataclass(frozen=True)
class Module:
    """What a module publishes, handles, provides and uses, and whom it believes.

    `handles` maps an event class to the dotted path of one handler or several, each a text
    or a `Handler` with options (its `concurrency`).
    `provides` maps a query port (a Protocol) to the dotted path of its implementation.
    `accepts_from` maps an event class this module handles to the `source` (or sources) of
    the producers outside the application it also believes that event from. Every other event
    is believed only from the module that publishes it (`<module>.service`). The class is the
    event's schema: the publisher's contract when a module publishes that name (it must be the
    same class), else the contract of an event only producers outside publish.
    The module's name is also its Django app label and, unless `database` names another, its
    database alias. `database="default"` (or any alias the project has) places it in a
    database it shares with the project's other apps: the first step of adopting modulith in
    an existing project, where its tables already are (docs/adopting.md).
    `after_dead_letter` is what this module's later events of an ordering key do once one of
    them is dead-lettered: `"wait"` (the default) until the dead letter is replayed or
    discarded, or `"skip"` past it.
    """

    name: str
    app: str
    publishes: tuple[type[Any], ...] = ()
    handles: Mapping[type[Any], HandlerSpec | tuple[HandlerSpec, ...]] = field(default_factory=dict)
    provides: Mapping[type[Any], str] = field(default_factory=dict)
    uses: tuple[type[Any], ...] = ()
    api: str | None = None
    accepts_from: Mapping[type[Any], str | tuple[str, ...]] = field(default_factory=dict)
    database: str = ""
    after_dead_letter: Literal["wait", "skip"] = "wait"
    # Set by the deployment, never in a manifest: the shared database this module left when
    # the deployment gave it one of its own (<MODULE>_DATABASE_URL), where its old tables may
    # still be (docs/adopting.md).
    moved_from: str = ""

    def __post_init__(self) -> None:
        if self.after_dead_letter not in ("wait", "skip"):
            raise ConfigurationError(
                f"module {self.name}: after_dead_letter must be 'wait' or 'skip', "
                f"not {self.after_dead_letter!r}"
            )
        if not self.database:
            object.__setattr__(self, "database", self.name)
        self.concurrency_limits  # noqa: B018 - refuses a handler given two limits, now

    @cached_property
    def concurrency_limits(self) -> dict[str, int]:
        """The handlers (by dotted path) that declare a concurrency, with it."""
        limits: dict[str, int] = {}
        for specs in self.handles.values():
            for spec in (specs,) if isinstance(specs, str | Handler) else specs:
                if not isinstance(spec, Handler):
                    continue
                known = limits.get(spec.path, spec.concurrency)
                if known != spec.concurrency:
                    raise ConfigurationError(
                        f"{self.name} declares handler {spec.path} with concurrency {known} "
                        f"and {spec.concurrency}: one handler, one limit"
                    )
                if spec.concurrency is not None:
                    limits[spec.path] = spec.concurrency
        return limits

    @property
    def shares_database(self) -> bool:
        """Whether it lives in a database that is not its own (named after it)."""
        return self.database != self.name

    def in_own_database(self) -> "Module":
        """This module, moved from the shared database its manifest names to its own."""
        if not self.shares_database:
            return self
        return replace(self, database=self.name, moved_from=self.database)

    @property
    def source(self) -> str:
        """The EventBridge `source` of the events this module publishes."""
        return f"{self.name}.service"

    def handlers_for(self, event_name: str) -> tuple[str, ...]:
        """The dotted paths of the module's handlers of the event, by its name or by a name it
        had before."""
        for event_type, specs in self.handles.items():
            if answers_to(event_type, event_name):
                listed = (specs,) if isinstance(specs, str | Handler) else specs
                return tuple(spec.path if isinstance(spec, Handler) else spec for spec in listed)
        return ()

    @property
    def handled_event_names(self) -> tuple[str, ...]:
        return tuple(event_type.event_name for event_type in self.handles)

    @property
    def answered_event_names(self) -> tuple[str, ...]:
        """The names of the events it handles, with the names they had before: what its queue
        takes, since a producer not yet upgraded still publishes under an old one."""
        return tuple(name for event_type in self.handles for name in names_of(event_type))

    def foreign_sources(self, event_name: str) -> tuple[str, ...]:
        """The sources outside the application this module believes the event from."""
        for event_type, sources in self.accepts_from.items():
            if answers_to(event_type, event_name):
                return (sources,) if isinstance(sources, str) else tuple(sources)
        return ()


@dataclass(frozen=True)
class Topology:
    """Every module of the application, and which of them run in this process."""

    modules: tuple[Module, ...]
    running: frozenset[str]

    @classmethod
    def load(cls, manifest_paths: Iterable[str], running: Iterable[str] | None) -> "Topology":
        modules = tuple(_import_manifest(path) for path in manifest_paths)
        names = [module.name for module in modules]
        wanted = set(names) if running is None else set(running)
        unknown = sorted(wanted - set(names))
        if unknown:
            raise ConfigurationError(
                f"MODULITH_MODULES names unknown module(s) {', '.join(unknown)}; "
                f"known modules are {', '.join(names)}"
            )
        topology = cls(modules=modules, running=frozenset(wanted))
        topology.validate()
        return topology

    def validate(self) -> None:
        """No event has two publishers and every used port has a provider. (That every handled
        event has a publisher is a system check, modulith.E005, run once Django is set up.)"""
        for module in self.modules:
            for event_type in module.publishes:
                self.publisher_of(event_type.event_name)  # refuses an event with two publishers
            for port in module.uses:
                self.provider_of(port)

    @cached_property
    def _by_name(self) -> dict[str, Module]:
        return {module.name: module for module in self.modules}

    @cached_property
    def _event_types(self) -> dict[str, tuple[Module, type[Any]]]:
        """Each published event by its name and by the names it had before."""
        types: dict[str, tuple[Module, type[Any]]] = {}
        for module in self.modules:
            for event_type in module.publishes:
                for name in names_of(event_type):
                    if name in types:
                        other, earlier = types[name]
                        events = {earlier.event_name, event_type.event_name}
                        also = "" if events == {name} else f" (as {' and '.join(sorted(events))})"
                        raise ConfigurationError(
                            f"event {name} is published by both {other.name} and "
                            f"{module.name}{also}"
                        )
                    types[name] = (module, event_type)
        return types

    @property
    def running_modules(self) -> tuple[Module, ...]:
        return tuple(module for module in self.modules if module.name in self.running)

    @property
    def running_databases(self) -> tuple[str, ...]:
        """The database aliases of the running modules, each once (modules that share a
        database share its outbox and inbox)."""
        return tuple(dict.fromkeys(module.database for module in self.running_modules))

    def with_own_databases(self, names: Iterable[str]) -> "Topology":
        """The same modules, those named moved to databases of their own."""
        chosen = set(names)
        return replace(
            self,
            modules=tuple(m.in_own_database() if m.name in chosen else m for m in self.modules),
        )

    def module(self, name: str) -> Module:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(f"no module is named {name!r}") from None

    def named(self, name: str) -> Module | None:
        """The module of this name (its app's label), or None for any other app."""
        return self._by_name.get(name)

    def is_running(self, name: str) -> bool:
        return name in self.running

    @cached_property
    def _external_types(self) -> dict[str, type[Any]]:
        """Events only producers outside the application publish, by name, with the class a
        module accepts them as (two differing classes are a system check's error)."""
        return {
            name: event_type
            for module in reversed(self.modules)
            for event_type in module.accepts_from
            if event_type.event_name not in self._event_types
            for name in names_of(event_type)
        }

    @cached_property
    def module_sources(self) -> frozenset[str]:
        """The `source` of every module's events."""
        return frozenset(module.source for module in self.modules)

    def event_type(self, event_name: str) -> type[Any] | None:
        """The schema of an event: its publisher's class, else the class a module accepts it
        as from outside."""
        entry = self._event_types.get(event_name)
        return entry[1] if entry else self._external_types.get(event_name)

    @cached_property
    def _ordering_fields(self) -> dict[str, str]:
        """The wire name (camelCase) of each ordered event's ordering key, by event name."""
        fields: dict[str, str] = {}
        for name in (*self._event_types, *self._external_types):
            event_type = self.event_type(name)
            key = getattr(event_type, "ordering_key", None)
            if event_type is not None and key is not None:
                fields[name] = event_type.model_fields[key].alias or key
        return fields

    @property
    def keeps_any_order(self) -> bool:
        """Whether any event of the topology declares an ordering key."""
        return bool(self._ordering_fields)

    def is_ordered(self, event_name: str) -> bool:
        """Whether the event's type declares an ordering key."""
        return event_name in self._ordering_fields

    def ordering_value(self, event_name: str, data: Mapping[str, Any]) -> str | None:
        """The value an event is ordered by, from its wire data, as text; None if its type
        keeps no order (or the value is empty)."""
        field_name = self._ordering_fields.get(event_name)
        if field_name is None:
            return None
        value = data.get(field_name)
        return None if value is None else str(value)

    @cached_property
    def fifo_queue_modules(self) -> frozenset[str]:
        """The modules whose queues keep per-key order (FIFO): those that handle an ordered
        event. Their unordered events take their own message group each."""
        return frozenset(
            module.name
            for module in self.modules
            if any(self.is_ordered(name) for name in module.handled_event_names)
        )

    @cached_property
    def fifo_topic_modules(self) -> frozenset[str]:
        """The modules whose topics are FIFO: those that publish an ordered event, and those
        whose events reach a FIFO queue (a standard topic cannot deliver to one)."""
        ordered = {
            module.name
            for module in self.modules
            if any(self.is_ordered(t.event_name) for t in module.publishes)
        }
        feeding = {
            self.publisher_of(name).name
            for subscriber in self.fifo_queue_modules
            for name in self.module(subscriber).handled_event_names
            if self.is_published(name)
        }
        return frozenset(ordered | feeding)

    def sources_of(self, subscriber: Module, event_name: str) -> tuple[str, ...]:
        """The `source`s the subscriber believes the event from: the module that publishes it,
        then the producers outside the application the subscriber declares."""
        own = (self.publisher_of(event_name).source,) if self.is_published(event_name) else ()
        return own + subscriber.foreign_sources(event_name)

    def is_published(self, event_name: str) -> bool:
        """Whether a module of the application publishes the event."""
        return event_name in self._event_types

    def publisher_of(self, event_name: str) -> Module:
        entry = self._event_types.get(event_name)
        if entry is None:
            raise ConfigurationError(f"no module publishes an event named {event_name!r}")
        return entry[0]

    def subscribers_of(self, event_name: str) -> tuple[Module, ...]:
        return self._subscribers.get(event_name, ())

    @cached_property
    def _subscribers(self) -> dict[str, tuple[Module, ...]]:
        """Each event's subscribers, found once: every publish asks."""
        names = {name for module in self.modules for name in module.answered_event_names}
        return {
            name: tuple(m for m in self.modules if name in m.answered_event_names) for name in names
        }

    def concurrency_limits(self) -> dict[str, int]:
        """The running modules' handlers that declare a concurrency, by dotted path."""
        return {
            path: limit
            for module in self.running_modules
            for path, limit in module.concurrency_limits.items()
        }

    def provider_of(self, port: type[Any]) -> tuple[Module, str]:
        for module in self.modules:
            if port in module.provides:
                return module, module.provides[port]
        raise ConfigurationError(f"no module provides the query port {port.__name__}")


def _import_manifest(path: str) -> Module:
    manifest = import_string(path)
    if not isinstance(manifest, Module):
        raise ConfigurationError(f"{path} is not a modulith.Module manifest")
    return manifest
