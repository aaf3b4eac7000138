"""How events travel in a scenario: in process, among the scenario's modules only. An event
for an absent module goes nowhere (in a split it would wait in that module's queue), so the
absent modules' handlers never run and their databases are never touched."""

from collections.abc import Sequence

from modulith.bus import Dispatcher, Envelope
from modulith.modules import Topology
from modulith.testing.activity import Activity
from modulith.transports.inprocess import InProcessTransport
from modulith.transports.transport import Outcome


class ScenarioTransport:
    name = InProcessTransport.name
    batch_size = InProcessTransport.batch_size
    max_batch_bytes = InProcessTransport.max_batch_bytes

    def __init__(self, topology: Topology, dispatcher: Dispatcher, activity: Activity) -> None:
        self.topology = topology
        self.activity = activity
        self._in_process = InProcessTransport(topology, dispatcher)

    def routes(self, event_name: str) -> list[str]:
        routes = self._in_process.routes(event_name)
        return [route for route in routes if self.topology.is_running(route)]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        """Hands the events to the route's module, as the in-process transport does, and
        tells the scenario's activity what became of them."""
        outcomes: list[Outcome] = []
        try:
            outcomes = self._in_process.send(route, envelopes, first_attempt=first_attempt)
        except Exception as error:
            outcomes = [Outcome.retry(f"{type(error).__name__}: {error}")] * len(envelopes)
            raise
        finally:
            self.activity.handed_over(route, envelopes, outcomes)
        return outcomes
