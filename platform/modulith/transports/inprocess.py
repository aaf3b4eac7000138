"""Delivery to subscribers in this process, each handler exactly once."""

import logging
from collections.abc import Sequence

from modulith.bus.dispatch import DependencyUnavailable, Dispatcher, PermanentFailure
from modulith.modules import Topology
from modulith.transports.envelope import Envelope
from modulith.transports.transport import DELIVERED, UNLIMITED_BYTES, Outcome

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
        outcomes: list[Outcome] = []
        for envelope in envelopes:
            outcome = self._deliver(envelope, route, first_attempt)
            outcomes.append(outcome)
            if outcome.unavailable:  # the rest of the batch would wait on the same outage
                skipped = Outcome(ok=False, error=outcome.error, unavailable=True)
                return outcomes + [skipped] * (len(envelopes) - len(outcomes))
        return outcomes

    def _deliver(self, envelope: Envelope, subscriber: str, first_attempt: bool) -> Outcome:
        try:
            self.dispatcher.handle(
                envelope, self.topology.module(subscriber), first_attempt=first_attempt
            )
        except PermanentFailure as failure:
            log.error(
                "%s cannot handle %s %s: %s",
                subscriber,
                envelope.event_name,
                envelope.event_id,
                failure,
            )
            return Outcome(ok=False, error=str(failure), permanent=True)
        except DependencyUnavailable as unavailable:
            return Outcome(ok=False, error=str(unavailable), unavailable=True)
        except Exception as error:
            log.exception("%s failed on %s %s", subscriber, envelope.event_name, envelope.event_id)
            return Outcome(ok=False, error=f"{type(error).__name__}: {error}")
        return DELIVERED
