"""Events straight to the queues of the subscribing modules (SendMessageBatch, 10 a call)."""

from collections.abc import Sequence
from typing import Any

from modulith.aws.context import AwsContext
from modulith.bus.envelope import Envelope
from modulith.modules import Topology
from modulith.observability.trace import xray_header
from modulith.transports.base import DELIVERED, Outcome

NO_ANSWER = Outcome(ok=False, error="the batch's answer did not mention this entry")


class SqsTransport:
    name = "sqs"
    batch_size = 10
    # SendMessageBatch carries at most 1 MiB in all, whatever each message's size.
    max_batch_bytes = 1024 * 1024

    def __init__(self, topology: Topology, aws: AwsContext) -> None:
        self.topology = topology
        self.aws = aws  # its client is made on first use

    def routes(self, event_name: str) -> list[str]:
        # From every manifest, also of modules that do not run in this process.
        return [module.name for module in self.topology.subscribers_of(event_name)]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        response = self.aws.sqs_sender.send_message_batch(
            QueueUrl=self.aws.queues.url(route),
            Entries=[_entry(str(index), envelope) for index, envelope in enumerate(envelopes)],
        )
        outcomes = [NO_ANSWER] * len(envelopes)
        for success in response.get("Successful", []):
            outcomes[int(success["Id"])] = DELIVERED
        for failure in response.get("Failed", []):
            # A sender fault (say, an invalid attribute) fails the same way every time.
            outcomes[int(failure["Id"])] = Outcome(
                ok=False,
                error=f"{failure.get('Code')}: {failure.get('Message', '')}",
                permanent=bool(failure.get("SenderFault")),
            )
        return outcomes


def message_attributes(envelope: Envelope) -> dict[str, Any]:
    """What a consumer (or an operator in the console) can read without parsing the body."""
    attributes = {
        "eventType": envelope.event_name,
        "eventId": str(envelope.event_id),
        "source": envelope.source,
    }
    if envelope.traceparent:
        attributes["traceparent"] = envelope.traceparent
    return {key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()}


def _entry(entry_id: str, envelope: Envelope) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Id": entry_id,
        "MessageBody": envelope.to_json(),
        "MessageAttributes": message_attributes(envelope),
    }
    if header := xray_header(envelope.traceparent):
        entry["MessageSystemAttributes"] = {
            "AWSTraceHeader": {"DataType": "String", "StringValue": header}
        }
    return entry
