"""The composition of the framework for this process, from settings. The one place where
transports and handler executors are chosen."""

from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings
from django.db import InterfaceError, OperationalError

from modulith.aws.consumer import QueueConsumer
from modulith.aws.context import AwsContext
from modulith.aws.deadletters import QueueDeadLetters
from modulith.aws.messages import MessageProcessor
from modulith.aws.models import HandlingFailure
from modulith.aws.names import ResourceNames
from modulith.bus.dispatch import Dispatcher
from modulith.conf import on_lambda
from modulith.contracts import ProviderUnavailable
from modulith.deadletters import DeadLetters
from modulith.errors import ConfigurationError
from modulith.modules import Module, Topology
from modulith.outbox import executors
from modulith.outbox.deadletters import OutboxDeadLetters
from modulith.outbox.outages import RouteBreaker
from modulith.outbox.relay import Relay, Scheduler
from modulith.outbox.retention import Retention
from modulith.outbox.retry import RetryPolicy
from modulith.ports import PortResolver, RemoteFactory
from modulith.remote.discovery import CloudMapDiscovery, Discovery, StaticDiscovery
from modulith.remote.ports import RemotePorts
from modulith.remote.signing import Signer
from modulith.runtime import Runtime, install
from modulith.transports.base import Transport
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


def build_runtime() -> Runtime:
    topology: Topology = settings.MODULITH_TOPOLOGY
    _check_transport_reaches_everyone(settings.MODULITH_TRANSPORT, topology)
    aws = AwsContext(
        names=ResourceNames(prefix=settings.MODULITH_QUEUE_PREFIX, bus=settings.MODULITH_EVENT_BUS),
        max_receives=settings.MODULITH_MAX_RECEIVES,
        visibility_timeout=settings.MODULITH_VISIBILITY_TIMEOUT,
        wait_seconds=settings.MODULITH_CONSUMER_WAIT_SECONDS,
    )
    # A handler failing on these is waiting for a dependency, not failing on its event.
    dispatcher = Dispatcher(
        topology,
        unavailable=(OperationalError, InterfaceError, ProviderUnavailable),
    )
    transport = _transport(settings.MODULITH_TRANSPORT, topology, aws, dispatcher)
    if settings.MODULITH_TRANSPORT in QUEUE_TRANSPORTS and not aws.region:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={settings.MODULITH_TRANSPORT} needs an AWS region: set "
            "AWS_DEFAULT_REGION (or AWS_REGION, or a profile with a region)"
        )
    relay = Relay(
        transport,
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
            outbox=settings.MODULITH_OUTBOX_RETENTION,
            inbox=settings.MODULITH_INBOX_RETENTION,
            # A failure is kept while its message may still come back (from a DLQ).
            kept_with_inbox={HandlingFailure: "last_failed_at"},
        ),
    )
    _refuse_threads_on_lambda()
    relay.scheduler = _scheduler(settings.MODULITH_ASYNC_HANDLERS, relay)
    uses_queues = settings.MODULITH_TRANSPORT in QUEUE_TRANSPORTS
    dead_letters: tuple[DeadLetters, ...] = (OutboxDeadLetters(relay),)
    if uses_queues:
        dead_letters += (QueueDeadLetters(aws),)
    return Runtime(
        topology=topology,
        transport=transport,
        relay=relay,
        dispatcher=dispatcher,
        ports=PortResolver(topology, remote=_remote_ports(topology, aws)),
        max_event_bytes=settings.MODULITH_MAX_EVENT_BYTES,
        aws=aws,
        uses_queues=uses_queues,
        dead_letters=dead_letters,
    )


def queue_consumer(
    current: Runtime, module: Module, wait_seconds: int | None = None
) -> QueueConsumer:
    """The consumer of one running module's queue."""
    return QueueConsumer(
        messages=message_processor(current, module),
        # A dependency that is down is probed as often as a route that is.
        pause=current.relay.outages.backoff,
        wait_seconds=current.aws.wait_seconds if wait_seconds is None else wait_seconds,
    )


def message_processor(
    current: Runtime, module: Module, *, deletes: bool = True
) -> MessageProcessor:
    """What takes each message of a running module's queue through its handlers; `deletes`
    False for a Lambda event source mapping, which deletes the messages itself."""
    return MessageProcessor(
        dispatcher=current.dispatcher,
        module=module,
        sqs=current.aws.sqs,
        queues=current.aws.queues,
        backoff=current.relay.policy,
        deletes=deletes,
    )


def _check_transport_reaches_everyone(transport: str, topology: Topology) -> None:
    absent = [m.name for m in topology.modules if not topology.is_running(m.name)]
    if transport not in QUEUE_TRANSPORTS and absent:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={transport} cannot reach {', '.join(absent)}, which do not run "
            "in this process: their events would be lost; use sqs or eventbridge"
        )


def _remote_ports(topology: Topology, aws: AwsContext) -> RemoteFactory | None:
    """Remote clients for the ports whose providers run elsewhere; checked at start, so a
    missing secret or address is one line now rather than a failed request later."""
    needed = {
        topology.provider_of(port)[0].name
        for module in topology.running_modules
        for port in module.uses
        if not topology.is_running(topology.provider_of(port)[0].name)
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


def _transport(name: str, topology: Topology, aws: AwsContext, dispatcher: Dispatcher) -> Transport:
    try:
        factory = TRANSPORTS[name]
    except KeyError:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={name!r} is not a transport; use one of {', '.join(TRANSPORTS)}"
        ) from None
    return factory(topology, aws, dispatcher)


def _refuse_threads_on_lambda() -> None:
    """A Lambda function is frozen as soon as it answers: a thread would deliver only during
    some later invocation, if ever. There deliveries after commit run inline (the default on
    Lambda) and the relay function's schedule sweeps what is left."""
    if not on_lambda():
        return
    if settings.MODULITH_ASYNC_HANDLERS == "thread":
        raise ConfigurationError(
            "MODULITH_ASYNC_HANDLERS=thread cannot run on Lambda, which freezes a function's "
            "threads between invocations: use inline (the default on Lambda) or celery"
        )
    if settings.MODULITH_EMBEDDED_RELAY:
        raise ConfigurationError(
            "MODULITH_EMBEDDED_RELAY=1 cannot run on Lambda, which freezes a function's threads "
            "between invocations: leave it unset there; the relay function's schedule sweeps"
        )


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
