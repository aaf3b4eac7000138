"""The wired-up framework of this process, built once by `modulith.runtime.bootstrap`."""

from dataclasses import dataclass

from modulith.bus.dispatch import Dispatcher
from modulith.bus.publisher import Publishing, install_publishing
from modulith.conf import ModulithSettings
from modulith.modules import Topology
from modulith.observability import process
from modulith.outbox.dead_letters import DeadLetters
from modulith.outbox.gauges import outbox_state
from modulith.outbox.relay import Relay
from modulith.ports import PortResolver, install_resolver
from modulith.runtime.transports import TransportKind
from modulith.transports.transport import Transport


@dataclass(frozen=True)
class Runtime:
    topology: Topology
    transport: Transport
    relay: Relay
    dispatcher: Dispatcher
    ports: PortResolver
    max_event_bytes: int
    settings: ModulithSettings
    # What its transport is: whether events travel through queues this process must consume
    # (sqs, sns, eventbridge), whether they fan out through topics.
    kind: TransportKind
    # Every place this transport keeps dead letters: the outbox's, and its queues' if any.
    dead_letters: tuple[DeadLetters, ...]


_current: Runtime | None = None


def runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("modulith is not set up: add 'modulith' to INSTALLED_APPS")
    return _current


def install(new: Runtime | None) -> None:
    global _current
    _current = new
    install_publishing(None if new is None else _publishing(new))
    install_resolver(None if new is None else new.ports)
    if new is not None:
        process.describe(new.topology, outbox_state)


def _publishing(current: Runtime) -> Publishing:
    relay = current.relay
    return Publishing(
        topology=current.topology,
        routes=current.transport.routes,
        # Claimed by this process as they are stored when it delivers them itself after the
        # commit; not when a worker does (it claims them as it takes them).
        claim=lambda: relay.claims.at_publish() if relay.claims_at_publish else {},
        schedule=lambda alias, deliveries, certain: relay.schedule(
            alias, deliveries, certain=certain
        ),
        max_event_bytes=current.max_event_bytes,
    )
