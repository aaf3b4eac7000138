"""Delivery to subscribers in this process, each handler exactly once."""

import logging
from collections.abc import Sequence

from modulith.bus.dispatch import Dispatcher
from modulith.modules import Topology
from modulith.transports.envelope import Envelope
from modulith.transports.transport import UNLIMITED_BYTES, Outcome, Settled

log = logging.getLogger(__name__)


class InProcessTransport:
    name = "inprocess"
    batch_size = 50
    max_batch_bytes = UNLIMITED_BYTES  # nothing leaves the process

    def __init__(self, topology: Topology, dispatcher: Dispatcher) -> None:
        self.topology = topology
        self.dispatcher = dispatcher

    def routes(self, event_name: str) -> list[str]:
        return [module.name for module in self.topology.subscribers_of(event_name)]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        subscriber = self.topology.module(route)
        outcomes: list[Outcome] = []
        for envelope in envelopes:
            outcome = self.dispatcher.deliver(envelope, subscriber, first_attempt=first_attempt)
            outcomes.append(outcome)
            if outcome.settled is Settled.DEAD:
                log.error(
                    "%s cannot handle %s %s: %s",
                    route,
                    envelope.event_name,
                    envelope.event_id,
                    outcome.error,
                )
            elif outcome.settled is Settled.RETRY:
                log.error(
                    "%s failed on %s %s",
                    route,
                    envelope.event_name,
                    envelope.event_id,
                    exc_info=outcome.cause,
                )
            elif outcome.unavailable:  # the rest of the batch would wait on the same outage
                skipped = Outcome.unavailable_because(outcome.error)
                return outcomes + [skipped] * (len(envelopes) - len(outcomes))
        return outcomes
