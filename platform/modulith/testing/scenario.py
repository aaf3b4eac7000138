"""A scenario: some of the application's modules running on their own, the others absent.

Only the scenario's modules handle events and answer their ports; the ports they use of absent
modules are answered by providers the test gives. The test feeds the modules events as foreign
modules would (`deliver`), reads what they published (`published`), and waits for the events
they cause, cascades included (`and_wait_for`, `wait_for`): a wait ends as soon as the event is
committed, or as soon as nothing left in flight could publish it, or at its timeout.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar, overload

from django.test.signals import setting_changed

from modulith.bus import Dispatcher, Envelope
from modulith.conf import ModulithSettings, affects_settings, modulith_settings
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError
from modulith.runtime import Runtime, install, runtime
from modulith.runtime.bootstrap import EXECUTORS, build_runtime
from modulith.testing.activity import Activity
from modulith.testing.delivery import Delivered, DeliveryFailed, foreign_envelope
from modulith.testing.providers import check_providers
from modulith.testing.published import (
    check_published_here,
    event_name,
    published_ids,
    published_since,
)
from modulith.testing.transport import ScenarioTransport
from modulith.testing.waiting import DEFAULT_TIMEOUT, Baseline, wait_for_event

E = TypeVar("E")


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
        self._since = Baseline(events=published_ids(topology), failures=0, cause="in this scenario")

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
        topology = _topology(modulith_settings().topology, modules)
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
            for event in published_since(self.topology, self._since.events)
            if event_type is None or event.event_name == event_name(event_type)
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
        return wait_for_event(
            self.topology, self.activity, event_type, matching, timeout, self._since
        )

    def deliver(self, event: Any, *, source: str | None = None) -> Delivered:
        """Hands `event` to the scenario's modules that handle it, as the relay or a queue
        consumer would; raises DeliveryFailed if a handler fails, or if a subscriber does not
        believe the event from `source` (by default its publisher's; a producer outside the
        application by the source its events carry, which the subscriber must declare)."""
        subscribers = [
            module.name
            for module in self.topology.subscribers_of(event.event_name)
            if self.topology.is_running(module.name)
        ]
        if not subscribers:
            raise ConfigurationError(
                f"no module of this scenario ({', '.join(self.modules)}) handles {event.event_name}"
            )
        return Delivered(
            foreign_envelope(self.topology, event, source),
            tuple(subscribers),
            topology=self.topology,
            activity=self.activity,
            hand_over=self._hand_over,
        )

    def _install(self) -> Runtime:
        def transport(
            topology: Topology, settings: ModulithSettings, dispatcher: Dispatcher
        ) -> ScenarioTransport:
            return ScenarioTransport(topology, dispatcher, self.activity)

        settings = modulith_settings()
        built = build_runtime(
            settings,
            topology=self.topology,
            transport=transport,
            executor=lambda relay: self.activity.tracking(
                EXECUTORS[settings.async_handlers](relay)
            ),
            providers=self._providers,
        )
        install(built)
        return built

    def _settings_changed(self, *, setting: str, **_: Any) -> None:
        """A test that overrides a MODULITH_ setting mid-scenario keeps its scenario (the
        framework's own receiver, connected first, has just installed a full runtime)."""
        if affects_settings(setting):
            self._runtime = self._install()

    def _hand_over(self, envelope: Envelope, subscribers: tuple[str, ...]) -> None:
        for module in subscribers:
            [outcome] = self._runtime.transport.send(module, [envelope])
            if not outcome.ok:
                raise DeliveryFailed(
                    f"{module} failed on {envelope.event_name} {envelope.event_id}: {outcome.error}"
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
