"""A transport as a third party would write it, outside the framework: each envelope leaves as
the JSON a broker would carry and arrives parsed from it, as untrusted input, before the
subscriber's handlers see it. The framework knows it only by the dotted path of its kind."""

from collections.abc import Sequence

from modulith.bus.dispatch import Dispatcher
from modulith.conf import ModulithSettings
from modulith.modules import Topology
from modulith.runtime.transports import TransportKind
from modulith.transports.envelope import Envelope, parse_json
from modulith.transports.transport import Outcome

MAX_BYTES = 256 * 1024


class WireLoopback:
    name = "wire-loopback"
    batch_size = 10
    max_batch_bytes = MAX_BYTES

    def __init__(self, topology: Topology, dispatcher: Dispatcher) -> None:
        self.topology = topology
        self.dispatcher = dispatcher
        self.carried: list[str] = []  # the event names, in the order they went over the wire

    def routes(self, event_name: str) -> list[str]:
        return [module.name for module in self.topology.subscribers_of(event_name)]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        subscriber = self.topology.module(route)
        outcomes = []
        for envelope in envelopes:
            body = envelope.to_json()
            self.carried.append(envelope.event_name)
            arrived = Envelope.from_wire(parse_json(body, max_bytes=MAX_BYTES))
            outcomes.append(self.dispatcher.deliver(arrived, subscriber))
        return outcomes


def _build(topology: Topology, settings: ModulithSettings, dispatcher: Dispatcher) -> WireLoopback:
    return WireLoopback(topology, dispatcher)


WIRE_LOOPBACK = TransportKind(build=_build)
NOT_A_KIND = "a transport's dotted path must name a TransportKind"
