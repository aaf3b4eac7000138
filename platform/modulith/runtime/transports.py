"""What a transport is (`TransportKind`), and the kind a name in MODULITH_TRANSPORT stands for:
imported only once chosen, and once the extra it needs is known to be installed. The names are
in `modulith.conf.transports`; a third party's transport is named by its kind's dotted path, and
nothing of the core names it."""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches

from modulith.bus.dispatch import Dispatcher
from modulith.conf import ModulithSettings, extras
from modulith.conf.transports import TRANSPORTS, registered
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
    in queues this process consumes, whether they fan out through topics, whether it keeps
    the order of an ordered event's key on the way, and where its own dead letters live
    (beyond the outbox's, which every transport has)."""

    build: TransportFactory
    uses_queues: bool = False
    fans_out: bool = False
    keeps_key_order: bool = True
    dead_letters: Callable[[Transport], tuple[DeadLetters, ...]] = _no_dead_letters


IN_PROCESS = TransportKind(
    build=lambda topology, settings, dispatcher: InProcessTransport(topology, dispatcher)
)


def transport_kind(name: str) -> TransportKind:
    """The kind of transport registered as `name`, its extra checked first."""
    found = registered(name)
    if found is None:
        close = get_close_matches(name, TRANSPORTS, n=1)
        hint = f": did you mean {close[0]}?" if close else f" (one of {', '.join(TRANSPORTS)})"
        raise ConfigurationError(f"MODULITH_TRANSPORT={name} is no transport{hint}")
    if found.extra is not None:
        extras.require(found.extra, needed_by=f"MODULITH_TRANSPORT={name}")
    module, _, attribute = found.path.partition(":")
    try:
        kind = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={name} cannot be loaded: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(kind, TransportKind):
        raise ConfigurationError(f"MODULITH_TRANSPORT={name} is no TransportKind")
    return kind
