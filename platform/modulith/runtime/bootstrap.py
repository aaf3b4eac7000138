"""The composition of the framework for this process, from its settings (a ModulithSettings,
passed in). The one place where transports and handler executors are chosen, and so where the
extras they need are checked (`modulith.conf.extras`): the modules of an extra are imported only
once it is known to be there."""

from collections.abc import Callable, Collection, Mapping
from typing import Any

from django.apps import apps
from django.conf import settings as django_settings
from django.db import InterfaceError, OperationalError

from modulith.bus.dispatch import Dispatcher
from modulith.bus.publisher import Executor
from modulith.conf import (
    HandlerMode,
    ModulithSettings,
    affects_settings,
    extras,
    on_lambda,
    reload_settings,
)
from modulith.contracts import ProviderUnavailable
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError
from modulith.outbox import executors
from modulith.outbox.dead_deliveries import OutboxDeadLetters
from modulith.outbox.dead_letters import DeadLetters
from modulith.outbox.ordering import KeyOrder
from modulith.outbox.outages import RouteBreaker
from modulith.outbox.relay import Relay
from modulith.outbox.retention import Retention
from modulith.outbox.retry import RetryPolicy
from modulith.ports import PortResolver, RemoteFactory
from modulith.ports.remote.discovery import CloudMapDiscovery, Discovery, StaticDiscovery
from modulith.ports.remote.signing import Signer
from modulith.runtime import Runtime, install
from modulith.runtime.transports import TransportFactory, TransportKind, transport_kind
from modulith.transports.transport import Transport


def _celery(relay: Relay) -> Executor:
    # The [celery] extra's module, imported once `_check_extras` has found it installed.
    from modulith.tasks import CeleryExecutor

    return CeleryExecutor()


# Builds an executor on the relay it runs.
ExecutorFactory = Callable[[Relay], Executor]

EXECUTORS: dict[HandlerMode, ExecutorFactory] = {
    "inline": executors.Inline,
    "thread": executors.ThreadPool,
    "celery": _celery,
}
# What a choice needs beyond the core (a transport's is in its registry line).
EXECUTOR_EXTRAS = {"celery": extras.CELERY}
POSTGRESQL_ENGINES = {"django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"}


def build_runtime(
    settings: ModulithSettings | None = None,
    *,
    topology: Topology | None = None,
    transport: TransportFactory | None = None,
    executor: ExecutorFactory | None = None,
    providers: Mapping[type[Any], Any] | None = None,
) -> Runtime:
    """The runtime these settings describe (without them, the settings as Django's settings
    and the environment give them now), built in one pass: each part is given what it needs
    as it is made, and nothing is changed afterwards. A test harness (`modulith.testing`)
    passes what it puts in their place: the modules that run, how their events travel, what
    runs the relay after a commit, and the providers of the ports whose modules are absent."""
    if settings is None:
        settings = ModulithSettings.load(django_settings)
    topology = settings.topology if topology is None else topology
    providers = dict(providers or {})
    _check_extras(settings)
    _refuse_threads_on_lambda(settings)
    # The settings' transport, or the one a test harness gives (queues then none of its own).
    kind = transport_kind(settings.transport) if transport is None else TransportKind(transport)
    if transport is None:
        _check_transport_reaches_everyone(settings.transport, kind, topology)
        _check_transport_keeps_order(settings.transport, kind, topology)
    # A handler failing on these is waiting for a dependency, not failing on its event.
    dispatcher = Dispatcher(
        topology,
        unavailable=(OperationalError, InterfaceError, ProviderUnavailable),
    )
    carrier = kind.build(topology, settings, dispatcher)
    relay = _relay(settings, carrier, topology)
    dead_letters: tuple[DeadLetters, ...] = (OutboxDeadLetters(relay),)
    if kind.uses_queues:
        dead_letters += kind.dead_letters(carrier)
    return Runtime(
        topology=topology,
        dispatcher=dispatcher,
        transport=carrier,
        relay=relay,
        executor=(executor or EXECUTORS[settings.async_handlers])(relay),
        ports=PortResolver(
            topology, remote=_remote_ports(settings, topology, providers), providers=providers
        ),
        max_event_bytes=settings.max_event_bytes,
        settings=settings,
        kind=kind,
        dead_letters=dead_letters,
    )


def _relay(settings: ModulithSettings, transport: Transport, topology: Topology) -> Relay:
    return Relay(
        transport,
        RetryPolicy(
            max_attempts=settings.max_attempts,
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
        ),
        claim_seconds=settings.claim_seconds,
        outages=RouteBreaker(
            settings.transport,
            backoff=RetryPolicy(base_seconds=0.5, max_seconds=settings.route_probe_max_seconds),
        ),
        retention=Retention(
            outbox=settings.outbox_retention,
            inbox=settings.inbox_retention,
            # A failure is kept while its message may still come back (from a DLQ): the queue
            # consumer's model, found by name as the core knows no transport's.
            kept_with_inbox={apps.get_model("modulith", "HandlingFailure"): "last_failed_at"},
        ),
        # A route named after a module is that subscriber's (in-process, a queue of its own).
        order=KeyOrder(
            skips_dead=[m.name for m in topology.modules if m.after_dead_letter == "skip"],
            keyed=topology.keeps_any_order,
        ),
    )


def _check_extras(settings: ModulithSettings) -> None:
    """Every extra the settings ask for is installed (the transport's is checked as it is
    found, the remote ports' with them)."""
    if settings.async_handlers in EXECUTOR_EXTRAS:
        extras.require(
            EXECUTOR_EXTRAS[settings.async_handlers],
            needed_by=f"MODULITH_ASYNC_HANDLERS={settings.async_handlers}",
        )
    if settings.otel:
        extras.require(extras.OTEL, needed_by="MODULITH_OTEL=1")
    for alias, database in django_settings.DATABASES.items():
        if database.get("ENGINE") in POSTGRESQL_ENGINES:
            extras.require(extras.POSTGRES, needed_by=f"the {alias} database on PostgreSQL")


def _check_transport_reaches_everyone(
    transport: str, kind: TransportKind, topology: Topology
) -> None:
    absent = [m.name for m in topology.modules if not topology.is_running(m.name)]
    if not kind.uses_queues and absent:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={transport} cannot reach {', '.join(absent)}, which do not run "
            "in this process: their events would be lost; use sqs, sns or eventbridge"
        )


def _check_transport_keeps_order(transport: str, kind: TransportKind, topology: Topology) -> None:
    ordered = sorted(
        {
            name
            for m in topology.modules
            for name in m.handled_event_names
            if topology.is_ordered(name)
        }
    )
    if ordered and not kind.keeps_key_order:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={transport} cannot keep the order of {', '.join(ordered)} "
            "(their types declare an ordering key): use sqs or sns, whose FIFO queues keep it"
        )


def _remote_ports(
    settings: ModulithSettings, topology: Topology, provided: Collection[type[Any]]
) -> RemoteFactory | None:
    """Remote clients for the ports whose providers run elsewhere (and were not provided);
    checked at start, so a missing secret or address is one line now rather than a failed
    request later."""
    needed = {
        topology.provider_of(port)[0].name
        for module in topology.running_modules
        for port in module.uses
        if port not in provided and not topology.is_running(topology.provider_of(port)[0].name)
    }
    if not needed:
        return None
    names = ", ".join(sorted(needed))
    if not settings.internal_keys:
        raise ConfigurationError(
            f"{names} run elsewhere: set MODULITH_INTERNAL_KEYS (or MODULITH_INTERNAL_SECRET), "
            "keys every service shares, to sign the calls to them"
        )
    extras.require(extras.REMOTE, needed_by=f"calling the query ports of {names} over HTTP")
    # The [remote] extra's modules, imported now that it is known to be installed.
    import httpx

    from modulith.ports.remote.ports import RemotePorts

    discovery = _discovery(settings)
    if isinstance(discovery, StaticDiscovery):
        missing = sorted(needed - set(discovery.urls))
        if missing:
            raise ConfigurationError(
                f"MODULITH_SERVICE_URLS has no URL for {', '.join(missing)}, which this process "
                "calls (e.g. MODULITH_SERVICE_URLS=inventory=http://inventory:8000)"
            )
    timeout = httpx.Timeout(settings.remote_read_timeout, connect=settings.remote_connect_timeout)
    return RemotePorts(
        topology=topology,
        discovery=discovery,
        signer=Signer(settings.internal_keys),
        http=httpx.Client(timeout=timeout, auth=_sigv4(settings)),
        breaker_reset_seconds=settings.breaker_reset_seconds,
    ).build


def _sigv4(settings: ModulithSettings) -> Any:
    """SigV4 on every internal call too, when asked (providers behind IAM-authorised routes)."""
    if not settings.internal_sigv4:
        return None
    extras.require(extras.AWS, needed_by="MODULITH_INTERNAL_SIGV4")
    # The [aws] extra's module, imported now that it is known to be installed.
    from modulith.ports.remote.sigv4 import SigV4

    return SigV4.from_environment()


def _discovery(settings: ModulithSettings) -> Discovery:
    if settings.discovery == "cloudmap":
        extras.require(extras.AWS, needed_by="MODULITH_DISCOVERY=cloudmap")
        # The [aws] extra's module, imported now that it is known to be installed.
        from modulith.aws.clients import client

        return CloudMapDiscovery(client("servicediscovery"), settings.cloudmap_namespace)
    return StaticDiscovery.parse(settings.service_urls)


def _refuse_threads_on_lambda(settings: ModulithSettings) -> None:
    """A Lambda function is frozen as soon as it answers: a thread would deliver only during
    some later invocation, if ever. There deliveries after commit run inline (the default on
    Lambda) and the relay function's schedule sweeps what is left."""
    if not on_lambda():
        return
    if settings.async_handlers == "thread":
        raise ConfigurationError(
            "MODULITH_ASYNC_HANDLERS=thread cannot run on Lambda, which freezes a function's "
            "threads between invocations: use inline (the default on Lambda) or celery"
        )
    if settings.embedded_relay:
        raise ConfigurationError(
            "MODULITH_EMBEDDED_RELAY=1 cannot run on Lambda, which freezes a function's threads "
            "between invocations: leave it unset there; the relay function's schedule sweeps"
        )


def settings_changed(*, setting: str, **_: Any) -> None:
    """Tests that override a setting of the framework get settings, and a runtime, that
    reflect it."""
    if affects_settings(setting):
        install(build_runtime(reload_settings()))
