"""Delivery to subscribers in this process, each in its own transaction."""

import logging
from collections.abc import Sequence

from modulith.bus.dispatch import PermanentFailure, handle
from modulith.bus.envelope import Envelope
from modulith.modules import Topology
from modulith.transports.base import DELIVERED, Outcome

log = logging.getLogger(__name__)


class InProcessTransport:
    name = "inprocess"
    batch_size = 50
    max_batch_bytes = 2**62  # no limit: nothing leaves the process

    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    def routes(self, event_name: str) -> list[str]:
        return [module.name for module in self.topology.subscribers_of(event_name)]

    def send(self, route: str, envelopes: Sequence[Envelope]) -> list[Outcome]:
        subscriber = self.topology.module(route)
        return [self._deliver(envelope, subscriber.name) for envelope in envelopes]

    def _deliver(self, envelope: Envelope, subscriber: str) -> Outcome:
        try:
            handle(envelope, self.topology.module(subscriber), self.topology)
        except PermanentFailure as failure:
            log.error(
                "%s cannot handle %s %s: %s",
                subscriber,
                envelope.event_name,
                envelope.event_id,
                failure,
            )
            return Outcome(ok=False, error=str(failure), permanent=True)
        except Exception as error:
            log.exception("%s failed on %s %s", subscriber, envelope.event_name, envelope.event_id)
            return Outcome(ok=False, error=f"{type(error).__name__}: {error}")
        return DELIVERED
