"""The wired-up framework of this process, built once by `modulith.bootstrap`."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modulith.deadletters import DeadLetters
from modulith.modules import Topology
from modulith.observability import process

if TYPE_CHECKING:
    from modulith.aws.context import AwsContext
    from modulith.bus.dispatch import Dispatcher
    from modulith.outbox.relay import Relay
    from modulith.ports import PortResolver
    from modulith.transports.base import Transport


@dataclass(frozen=True)
class Runtime:
    topology: "Topology"
    transport: "Transport"
    relay: "Relay"
    dispatcher: "Dispatcher"
    ports: "PortResolver"
    max_event_bytes: int
    aws: "AwsContext"
    # Whether events travel through queues this process must consume (sqs, sns, eventbridge).
    uses_queues: bool
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
    if new is not None:
        process.describe(new.topology)
