"""The wired-up framework of this process, built once by `modulith.runtime.bootstrap` and
installed in the one place every part reads it from (`modulith.conf.installed`)."""

from dataclasses import dataclass

from modulith.bus.dispatch import Dispatcher
from modulith.bus.publisher import Executor
from modulith.conf import ModulithSettings
from modulith.conf.installed import INSTALLED, install_runtime
from modulith.modules import Topology
from modulith.observability import process
from modulith.outbox.dead_letters import DeadLetters
from modulith.outbox.gauges import outbox_state
from modulith.outbox.relay import Relay
from modulith.ports import PortResolver
from modulith.runtime.transports import TransportKind
from modulith.transports.transport import Transport


@dataclass(frozen=True)
class Runtime:
    """Its parts, each built with what it needs: the dispatcher hands events to handlers, the
    transport carries them (in process, to the dispatcher), the relay sends the outbox's
    deliveries through the transport, the executor runs the relay after each commit, the
    ports answer queries, and the dead letters are wherever this transport keeps them."""

    topology: Topology
    dispatcher: Dispatcher
    transport: Transport
    relay: Relay
    executor: Executor
    ports: PortResolver
    max_event_bytes: int
    settings: ModulithSettings
    # What its transport is: whether events travel through queues this process must consume
    # (sqs, sns, eventbridge), whether they fan out through topics.
    kind: TransportKind
    # Every place this transport keeps dead letters: the outbox's, and its queues' if any.
    dead_letters: tuple[DeadLetters, ...]


def runtime() -> Runtime:
    current: Runtime = INSTALLED.runtime
    return current


def install(new: Runtime | None) -> None:
    install_runtime(new)
    if new is not None:
        process.describe(new.topology, outbox_state)
