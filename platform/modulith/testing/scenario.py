"""A scenario: some of the application's modules running on their own, the others absent.

Only the scenario's modules handle events and answer their ports; the ports they use of absent
modules are answered by providers the test gives. The test feeds the modules events as foreign
modules would (`deliver`), reads what they published (`published`), and waits for the events
they cause, cascades included (`and_wait_for`, `wait_for`): a wait ends as soon as the event is
committed, or as soon as nothing left in flight could publish it, or at its timeout.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, cast, overload
from uuid import UUID

from django.conf import settings
from django.test.signals import setting_changed

from modulith.bootstrap import build_runtime
from modulith.bus import Dispatcher, Envelope
from modulith.errors import ConfigurationError
from modulith.modules import Topology
from modulith.runtime import Runtime, install, runtime
from modulith.testing.activity import Activity
from modulith.testing.delivery import DeliveryFailed, foreign_envelope
from modulith.testing.providers import check_providers
from modulith.testing.published import check_published_here, committed, described
from modulith.testing.transport import ScenarioTransport

E = TypeVar("E")

DEFAULT_TIMEOUT = 5.0


class Scenario:
    """Start one with `Scenario.start(["inventory"])` (or the `module_scenario` fixture) and
    stop it with `stop()`; one runs at a time, since a process has one runtime."""

    _running: ClassVar["Scenario | None"] = None

    def __init__(self, topology: Topology, providers: Mapping[type[Any], object]) -> None:
        self.topology = topology
        self.activity = Activity()
        self._providers = dict(providers)
        self._previous = runtime()
        self._runtime = self._install()
        self._before = self._event_ids()

    @classmethod
    def start(
        cls, modules: Sequence[str], *, providers: Mapping[type[Any], object] | None = None
    ) -> "Scenario":
        """Runs `modules` of the project, the others absent, with `providers` answering the
        ports they use of absent modules (a port: a provider object)."""
        if cls._running is not None:
            raise ConfigurationError(
                f"a scenario of {', '.join(cls._running.modules)} is running: stop it first "
                "(one scenario at a time: the process has one runtime)"
            )
        topology = _topology(settings.MODULITH_TOPOLOGY, modules)
        check_providers(topology, providers or {})
        scenario = cls(topology, providers or {})
        setting_changed.connect(scenario._settings_changed, dispatch_uid=id(scenario))
        cls._running = scenario
        return scenario

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Waits for what is still in flight, then gives the process its runtime back."""
        if Scenario._running is not self:
            return  # stopped already
        try:
            quiet = self.activity.wait_until_quiet(timeout)
        finally:
            setting_changed.disconnect(dispatch_uid=id(self))
            install(self._previous)
            Scenario._running = None
        if not quiet:
            raise AssertionError(
                f"the scenario ended with deliveries still in flight after {timeout} s: "
                f"{', '.join(self.activity.in_flight)}"
            )

    def __enter__(self) -> "Scenario":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(module.name for module in self.topology.running_modules)

    @overload
    def published(self, *, timeout: float = ...) -> list[Any]: ...

    @overload
    def published(self, event_type: type[E], *, timeout: float = ...) -> list[E]: ...

    def published(
        self, event_type: type[Any] | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> list[Any]:
        """The events (of `event_type`, or all) the scenario's modules committed since it
        started, oldest first, once nothing is in flight any more."""
        if event_type is not None:
            check_published_here(self.topology, event_type)
        self.wait_until_idle(timeout)
        return [
            event
            for event in self._published_since(self._before)
            if event_type is None or event.event_name == _event_name(event_type)
        ]

    def wait_until_idle(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Returns once every delivery set in motion has been handed to its module."""
        if not self.activity.wait_until_quiet(timeout):
            raise AssertionError(
                f"deliveries still in flight after {timeout} s: "
                f"{', '.join(self.activity.in_flight)}"
            )

    def wait_for(
        self,
        event_type: type[E],
        *,
        matching: Callable[[E], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> E:
        """The first event of `event_type` (that `matching` accepts) published since the
        scenario started, waiting for it if it is not there yet."""
        return self._wait_for(event_type, matching, timeout, self._before, "in this scenario", 0)

    def deliver(self, event: Any) -> "Delivered":
        """Hands `event` to the scenario's modules that handle it, as the relay or a queue
        consumer would; raises DeliveryFailed if a handler fails."""
        subscribers = [
            module.name
            for module in self.topology.subscribers_of(event.event_name)
            if self.topology.is_running(module.name)
        ]
        if not subscribers:
            raise ConfigurationError(
                f"no module of this scenario ({', '.join(self.modules)}) handles {event.event_name}"
            )
        delivered = Delivered(self, foreign_envelope(self.topology, event), tuple(subscribers))
        delivered.hand_over()
        return delivered

    def _wait_for(
        self,
        event_type: type[E],
        matching: Callable[[E], bool] | None,
        timeout: float,
        since: frozenset[UUID],
        cause: str,
        failures_before: int,
    ) -> E:
        check_published_here(self.topology, event_type)
        name = _event_name(event_type)

        def found() -> E | None:
            for event in self._published_since(since):
                if event.event_name == name and (matching is None or matching(event)):
                    return cast(E, event)
            return None

        event = self.activity.wait(found, timeout)
        if event is not None:
            return event
        raise AssertionError(
            self._report(event_type, matching, timeout, since, cause, failures_before)
        )

    def _report(
        self,
        event_type: type[Any],
        matching: Callable[[Any], bool] | None,
        timeout: float,
        since: frozenset[UUID],
        cause: str,
        failures_before: int,
    ) -> str:
        what = _event_name(event_type)
        if matching is not None:
            what += f" matching {getattr(matching, '__name__', repr(matching))}"
        in_flight = self.activity.in_flight
        if in_flight:
            first = f"within {timeout} s {cause}; still in flight: {', '.join(in_flight)}"
        else:
            first = f"{cause}, and nothing left in flight could publish one"
        published = [described(event) for event in self._published_since(since)]
        lines = [f"no {what} was published {first}."]
        lines += (
            ["Published instead:", *(f"  {line}" for line in published)]
            if published
            else ["Nothing was published."]
        )
        failures = self.activity.failures[failures_before:]
        if failures:
            lines += ["Failed deliveries:", *(f"  {failure}" for failure in failures)]
        return "\n".join(lines)

    def _published_since(self, before: frozenset[UUID]) -> list[Any]:
        return [p.event for p in committed(self.topology) if p.event_id not in before]

    def _event_ids(self) -> frozenset[UUID]:
        return frozenset(p.event_id for p in committed(self.topology))

    def _install(self) -> Runtime:
        def transport(topology: Topology, aws: object, dispatcher: Dispatcher) -> ScenarioTransport:
            return ScenarioTransport(topology, dispatcher, self.activity)

        built = build_runtime(self.topology, transport=transport, providers=self._providers)
        built.relay.scheduler = self.activity.tracking(built.relay.scheduler)
        install(built)
        return built

    def _settings_changed(self, *, setting: str, **_: Any) -> None:
        """A test that overrides a MODULITH_ setting mid-scenario keeps its scenario (the
        framework's own receiver, connected first, has just installed a full runtime)."""
        if setting.startswith("MODULITH_"):
            self._runtime = self._install()

    def _hand_over(self, envelope: Envelope, subscribers: Sequence[str]) -> None:
        for module in subscribers:
            [outcome] = self._runtime.transport.send(module, [envelope])
            if not outcome.ok:
                raise DeliveryFailed(
                    f"{module} failed on {envelope.event_name} {envelope.event_id}: {outcome.error}"
                )


class Delivered:
    """An event the test delivered, and what it set in motion."""

    def __init__(self, scenario: Scenario, envelope: Envelope, subscribers: tuple[str, ...]):
        self.scenario = scenario
        self.envelope = envelope
        self.subscribers = subscribers
        self._before = scenario._event_ids()
        self._failures_before = len(scenario.activity.failures)

    @property
    def event_id(self) -> UUID:
        return self.envelope.event_id

    def hand_over(self) -> None:
        self.scenario._hand_over(self.envelope, self.subscribers)

    def again(self) -> "Delivered":
        """The same event (the same id) delivered once more, as at-least-once delivery may."""
        delivered = Delivered(self.scenario, self.envelope, self.subscribers)
        delivered.hand_over()
        return delivered

    def and_wait_for(
        self,
        event_type: type[E],
        *,
        matching: Callable[[E], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> E:
        """The first event of `event_type` (that `matching` accepts) published since this
        delivery, its cascades included, waiting for it if it is not there yet."""
        cause = f"after {self.envelope.event_name} was delivered to {', '.join(self.subscribers)}"
        return self.scenario._wait_for(
            event_type, matching, timeout, self._before, cause, self._failures_before
        )


class ScenarioFactory(Protocol):
    """What the `module_scenario` fixture gives a test: `module_scenario("inventory")`."""

    def __call__(
        self, *modules: str, providers: Mapping[type[Any], object] | None = None
    ) -> Scenario: ...


def _topology(project: Topology, modules: Sequence[str]) -> Topology:
    names = [module.name for module in project.modules]
    if not modules:
        raise ConfigurationError(f"name the modules of the scenario, of {', '.join(names)}")
    unknown = [name for name in modules if name not in names]
    if unknown:
        raise ConfigurationError(
            f"no module is named {', '.join(map(repr, unknown))}; the modules are "
            f"{', '.join(names)}"
        )
    return Topology(modules=project.modules, running=frozenset(modules))


def _event_name(event_type: type[Any]) -> str:
    return str(event_type.event_name)
