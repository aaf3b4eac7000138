"""The transports, by name: what the core knows of them. Each name stands for a `TransportKind`
at a dotted path, imported only once chosen and once the extra it needs is known to be
installed (kombu's transport table). A new transport, the framework's or a third party's, is one
`TransportKind` and one line here; nothing else of the core names it."""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches

from modulith.bus.dispatch import Dispatcher
from modulith.conf import ModulithSettings, extras
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError
from modulith.outbox.dead_letters import DeadLetters
from modulith.transports.inprocess import InProcessTransport
from modulith.transports.transport import Transport

TransportFactory = Callable[[Topology, ModulithSettings, Dispatcher], Transport]


def _no_dead_letters(transport: Transport) -> tuple[DeadLetters, ...]:
    return ()


@dataclass(frozen=True)
class TransportKind:
    """What a transport is: how it is built from the settings, whether the modules' events wait
    in queues this process consumes, whether they fan out through topics, and where its own
    dead letters live (beyond the outbox's, which every transport has)."""

    build: TransportFactory
    uses_queues: bool = False
    fans_out: bool = False
    dead_letters: Callable[[Transport], tuple[DeadLetters, ...]] = _no_dead_letters


@dataclass(frozen=True)
class Registered:
    path: str  # "package.module:NAME", the TransportKind
    extra: extras.Extra | None = None  # what it needs beyond the core


TRANSPORTS: dict[str, Registered] = {
    "inprocess": Registered("modulith.runtime.transports:IN_PROCESS"),
    "sqs": Registered("modulith.aws.transports.kinds:SQS", extras.AWS),
    "sns": Registered("modulith.aws.transports.kinds:SNS", extras.AWS),
    "eventbridge": Registered("modulith.aws.transports.kinds:EVENTBRIDGE", extras.AWS),
}

IN_PROCESS = TransportKind(
    build=lambda topology, settings, dispatcher: InProcessTransport(topology, dispatcher)
)


def transport_kind(name: str) -> TransportKind:
    """The kind of transport registered as `name`, its extra checked first."""
    registered = TRANSPORTS.get(name)
    if registered is None:
        close = get_close_matches(name, TRANSPORTS, n=1)
        hint = f": did you mean {close[0]}?" if close else f" (one of {', '.join(TRANSPORTS)})"
        raise ConfigurationError(f"MODULITH_TRANSPORT={name} is no transport{hint}")
    if registered.extra is not None:
        extras.require(registered.extra, needed_by=f"MODULITH_TRANSPORT={name}")
    module, _, attribute = registered.path.partition(":")
    kind = getattr(importlib.import_module(module), attribute)
    if not isinstance(kind, TransportKind):
        raise ConfigurationError(
            f"{registered.path} (MODULITH_TRANSPORT={name}) is no TransportKind"
        )
    return kind
