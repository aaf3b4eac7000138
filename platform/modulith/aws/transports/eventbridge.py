"""Events onto one EventBridge bus (PutEvents, 10 entries a call); a rule per subscribing
module routes them to its queue."""

import json
from collections.abc import Sequence
from typing import Any

from modulith.aws.context import AwsContext
from modulith.observability.trace import xray_header
from modulith.transports.envelope import Envelope
from modulith.transports.transport import DELIVERED, Outcome

# Entry errors that no retry can mend.
PERMANENT_ERRORS = {"MalformedDetail", "InvalidArgument", "ValidationException"}


class EventBridgeTransport:
    name = "eventbridge"
    batch_size = 10
    # PutEvents carries at most 256 KB in all.
    max_batch_bytes = 256 * 1024
    max_message_bytes = 256 * 1024

    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws  # its client is made on first use
        self.bus = aws.names.bus
        # A larger event goes by claim check.
        self.claim_check_bytes = aws.claim_check_threshold(self.max_message_bytes)

    def routes(self, event_name: str) -> list[str]:
        # Every event goes on the bus: it is a fact anyone may subscribe to, inside or not.
        return [self.bus]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        return self.aws.claims.send(
            envelopes, self.claim_check_bytes, lambda ready: self._send(route, ready)
        )

    def _send(self, bus: str, envelopes: list[Envelope]) -> list[Outcome]:
        response = self.aws.events.put_events(Entries=[_entry(bus, e) for e in envelopes])
        return [_outcome(entry) for entry in response["Entries"]]


def _entry(bus: str, envelope: Envelope) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "EventBusName": bus,
        "Source": envelope.source,
        "DetailType": envelope.event_name,
        "Detail": json.dumps(envelope.to_wire()["detail"], separators=(",", ":")),
        "Time": envelope.occurred_at,
    }
    if header := xray_header(envelope.traceparent):
        entry["TraceHeader"] = header
    return entry


def _outcome(entry: dict[str, Any]) -> Outcome:
    if entry.get("EventId"):
        return DELIVERED
    code = str(entry.get("ErrorCode", "Unknown"))
    error = f"{code}: {entry.get('ErrorMessage', '')}"
    return Outcome.dead(error, "rejected") if code in PERMANENT_ERRORS else Outcome.retry(error)
