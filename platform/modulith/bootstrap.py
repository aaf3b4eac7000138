"""The composition of the framework for this process, from settings. The one place where
transports and handler executors are chosen."""

from collections.abc import Callable
from typing import Any

from django.conf import settings

from modulith.aws.context import AwsContext
from modulith.aws.names import ResourceNames
from modulith.errors import ConfigurationError
from modulith.modules import Topology
from modulith.outbox import executors
from modulith.outbox.relay import Relay, Scheduler
from modulith.outbox.retry import RetryPolicy
from modulith.ports import PortResolver
from modulith.runtime import Runtime, install
from modulith.transports.base import Transport
from modulith.transports.eventbridge import EventBridgeTransport
from modulith.transports.inprocess import InProcessTransport
from modulith.transports.sqs import SqsTransport

TransportFactory = Callable[[Topology, AwsContext], Transport]
TRANSPORTS: dict[str, TransportFactory] = {
    "inprocess": lambda topology, aws: InProcessTransport(topology),
    "sqs": lambda topology, aws: SqsTransport(topology, aws.sqs, aws.queues),
    "eventbridge": lambda topology, aws: EventBridgeTransport(aws.events, aws.names.bus),
}
QUEUE_TRANSPORTS = {"sqs", "eventbridge"}

EXECUTORS: dict[str, Callable[[Relay], Scheduler]] = {
    "inline": executors.inline,
    "thread": executors.thread_pool,
    "celery": executors.celery,
}


def build_runtime() -> Runtime:
    topology: Topology = settings.MODULITH_TOPOLOGY
    aws = AwsContext(
        names=ResourceNames(prefix=settings.MODULITH_QUEUE_PREFIX, bus=settings.MODULITH_EVENT_BUS),
        max_receives=settings.MODULITH_MAX_RECEIVES,
        visibility_timeout=settings.MODULITH_VISIBILITY_TIMEOUT,
        wait_seconds=settings.MODULITH_CONSUMER_WAIT_SECONDS,
    )
    transport = _transport(settings.MODULITH_TRANSPORT, topology, aws)
    relay = Relay(
        transport,
        RetryPolicy(
            max_attempts=settings.MODULITH_MAX_ATTEMPTS,
            base_seconds=settings.MODULITH_RETRY_BASE_SECONDS,
            max_seconds=settings.MODULITH_RETRY_MAX_SECONDS,
        ),
    )
    relay.scheduler = _scheduler(settings.MODULITH_ASYNC_HANDLERS, relay)
    return Runtime(
        topology=topology,
        transport=transport,
        relay=relay,
        ports=PortResolver(topology),
        max_event_bytes=settings.MODULITH_MAX_EVENT_BYTES,
        aws=aws,
        uses_queues=settings.MODULITH_TRANSPORT in QUEUE_TRANSPORTS,
    )


def _transport(name: str, topology: Topology, aws: AwsContext) -> Transport:
    try:
        factory = TRANSPORTS[name]
    except KeyError:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={name!r} is not a transport; use one of {', '.join(TRANSPORTS)}"
        ) from None
    return factory(topology, aws)


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
