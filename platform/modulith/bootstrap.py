"""The composition of the framework for this process, from settings. The one place where
transports and handler executors are chosen."""

from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.module_loading import import_string

from modulith.aws.context import AwsContext
from modulith.aws.names import ResourceNames
from modulith.bus.dispatch import Dispatcher
from modulith.errors import ConfigurationError
from modulith.modules import Module, Topology
from modulith.outbox import executors
from modulith.outbox.outages import RouteBreaker
from modulith.outbox.relay import Relay, Scheduler
from modulith.outbox.retention import Retention
from modulith.outbox.retry import RetryPolicy
from modulith.ports import PortResolver, RemoteFactory
from modulith.remote.client import PortErrors
from modulith.remote.discovery import CloudMapDiscovery, Discovery, StaticDiscovery
from modulith.remote.ports import RemotePorts
from modulith.remote.signing import Signer
from modulith.runtime import Runtime, install
from modulith.startup import check_running_modules
from modulith.transports.base import Transport
from modulith.transports.consumer import QueueConsumer
from modulith.transports.eventbridge import EventBridgeTransport
from modulith.transports.inprocess import InProcessTransport
from modulith.transports.sqs import SqsTransport

TransportFactory = Callable[[Topology, AwsContext, Dispatcher], Transport]
TRANSPORTS: dict[str, TransportFactory] = {
    "inprocess": lambda topology, aws, dispatcher: InProcessTransport(topology, dispatcher),
    "sqs": lambda topology, aws, dispatcher: SqsTransport(topology, aws),
    "eventbridge": lambda topology, aws, dispatcher: EventBridgeTransport(aws),
}
QUEUE_TRANSPORTS = {"sqs", "eventbridge"}

EXECUTORS: dict[str, Callable[[Relay], Scheduler]] = {
    "inline": executors.inline,
    "thread": executors.thread_pool,
    "celery": executors.celery,
}


def build_runtime(
    topology: Topology | None = None,
    *,
    transport: TransportFactory | None = None,
    providers: Mapping[type[Any], Any] | None = None,
) -> Runtime:
    """The framework of this process, from settings. A test harness (`modulith.testing`)
    passes what it puts in their place: the modules that run, how their events travel, and
    the providers of the ports whose modules are absent."""
    topology = settings.MODULITH_TOPOLOGY if topology is None else topology
    providers = dict(providers or {})
    check_running_modules(topology)
    uses_queues = transport is None and settings.MODULITH_TRANSPORT in QUEUE_TRANSPORTS
    if transport is None:
        _check_transport_reaches_everyone(settings.MODULITH_TRANSPORT, topology)
        transport = _transport(settings.MODULITH_TRANSPORT)
    aws = AwsContext(
        names=ResourceNames(prefix=settings.MODULITH_QUEUE_PREFIX, bus=settings.MODULITH_EVENT_BUS),
        max_receives=settings.MODULITH_MAX_RECEIVES,
        visibility_timeout=settings.MODULITH_VISIBILITY_TIMEOUT,
        wait_seconds=settings.MODULITH_CONSUMER_WAIT_SECONDS,
    )
    # A handler failing on these is waiting for a dependency, not failing on its event.
    dispatcher = Dispatcher(
        topology,
        unavailable=(
            OperationalError,
            InterfaceError,
            import_string(settings.MODULITH_PORT_ERRORS["unavailable"]),
        ),
    )
    if uses_queues and not aws.region:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={settings.MODULITH_TRANSPORT} needs an AWS region: set "
            "AWS_DEFAULT_REGION (or AWS_REGION, or a profile with a region)"
        )
    relay = Relay(
        transport(topology, aws, dispatcher),
        RetryPolicy(
            max_attempts=settings.MODULITH_MAX_ATTEMPTS,
            base_seconds=settings.MODULITH_RETRY_BASE_SECONDS,
            max_seconds=settings.MODULITH_RETRY_MAX_SECONDS,
        ),
        claim_seconds=settings.MODULITH_CLAIM_SECONDS,
        outages=RouteBreaker(
            settings.MODULITH_TRANSPORT,
            backoff=RetryPolicy(
                base_seconds=0.5, max_seconds=settings.MODULITH_ROUTE_PROBE_MAX_SECONDS
            ),
        ),
        retention=Retention(
            outbox=settings.MODULITH_OUTBOX_RETENTION, inbox=settings.MODULITH_INBOX_RETENTION
        ),
    )
    relay.scheduler = _scheduler(settings.MODULITH_ASYNC_HANDLERS, relay)
    return Runtime(
        topology=topology,
        transport=relay.transport,
        relay=relay,
        dispatcher=dispatcher,
        ports=PortResolver(
            topology, remote=_remote_ports(topology, aws, providers), providers=providers
        ),
        max_event_bytes=settings.MODULITH_MAX_EVENT_BYTES,
        aws=aws,
        uses_queues=uses_queues,
    )


def queue_consumer(
    current: Runtime, module: Module, wait_seconds: int | None = None
) -> QueueConsumer:
    """The consumer of one running module's queue."""
    return QueueConsumer(
        dispatcher=current.dispatcher,
        module=module,
        sqs=current.aws.sqs,
        queues=current.aws.queues,
        backoff=current.relay.policy,
        # A dependency that is down is probed as often as a route that is.
        pause=current.relay.outages.backoff,
        wait_seconds=current.aws.wait_seconds if wait_seconds is None else wait_seconds,
    )


def _check_transport_reaches_everyone(transport: str, topology: Topology) -> None:
    absent = [m.name for m in topology.modules if not topology.is_running(m.name)]
    if transport not in QUEUE_TRANSPORTS and absent:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={transport} cannot reach {', '.join(absent)}, which do not run "
            "in this process: their events would be lost; use sqs or eventbridge"
        )


def _remote_ports(
    topology: Topology, aws: AwsContext, provided: Collection[type[Any]]
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
    if not settings.MODULITH_INTERNAL_SECRET:
        raise ConfigurationError(
            f"{', '.join(sorted(needed))} run elsewhere: set MODULITH_INTERNAL_SECRET "
            "(the same on every service) to sign the calls to them"
        )
    discovery = _discovery(aws)
    if isinstance(discovery, StaticDiscovery):
        missing = sorted(needed - set(discovery.urls))
        if missing:
            raise ConfigurationError(
                f"MODULITH_SERVICE_URLS has no URL for {', '.join(missing)}, which this process "
                "calls (e.g. MODULITH_SERVICE_URLS=inventory=http://inventory:8000)"
            )
    timeout = httpx.Timeout(
        settings.MODULITH_REMOTE_READ_TIMEOUT, connect=settings.MODULITH_REMOTE_CONNECT_TIMEOUT
    )
    return RemotePorts(
        topology=topology,
        discovery=discovery,
        signer=Signer(settings.MODULITH_INTERNAL_SECRET),
        http=httpx.Client(timeout=timeout),
        errors=PortErrors(
            unavailable=import_string(settings.MODULITH_PORT_ERRORS["unavailable"]),
            failed=import_string(settings.MODULITH_PORT_ERRORS["failed"]),
        ),
        breaker_reset_seconds=settings.MODULITH_BREAKER_RESET_SECONDS,
    ).build


def _discovery(aws: AwsContext) -> Discovery:
    if settings.MODULITH_DISCOVERY == "static":
        return StaticDiscovery.parse(settings.MODULITH_SERVICE_URLS)
    if settings.MODULITH_DISCOVERY == "cloudmap":
        return CloudMapDiscovery(
            aws.client("servicediscovery"), settings.MODULITH_CLOUDMAP_NAMESPACE
        )
    raise ConfigurationError(
        f"MODULITH_DISCOVERY={settings.MODULITH_DISCOVERY!r} is not a discovery; "
        "use static or cloudmap"
    )


def _transport(name: str) -> TransportFactory:
    try:
        return TRANSPORTS[name]
    except KeyError:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={name!r} is not a transport; use one of {', '.join(TRANSPORTS)}"
        ) from None


def _scheduler(mode: str, relay: Relay) -> Scheduler:
    try:
        factory = EXECUTORS[mode]
    except KeyError:
        raise ConfigurationError(
            f"MODULITH_ASYNC_HANDLERS={mode!r} is not a mode; use one of {', '.join(EXECUTORS)}"
        ) from None
    return factory(relay)


def settings_changed(*, setting: str, **_: Any) -> None:
    """Tests that override a MODULITH_ setting get a runtime that reflects it."""
    if setting.startswith("MODULITH_"):
        install(build_runtime())
