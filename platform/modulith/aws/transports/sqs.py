"""Events straight to the queues of the subscribing modules (SendMessageBatch, 10 a call)."""

from collections.abc import Sequence
from typing import Any

from modulith.aws.context import AwsContext
from modulith.aws.messages import SQS_MAX_MESSAGE_BYTES, add_fifo_fields, message_attributes
from modulith.aws.transports.batches import batch_outcomes
from modulith.modules import Topology
from modulith.observability.trace import xray_header
from modulith.transports.envelope import Envelope
from modulith.transports.transport import Outcome


class SqsTransport:
    name = "sqs"
    batch_size = 10
    # SendMessageBatch carries at most 1 MiB in all, whatever each message's size.
    max_batch_bytes = 1024 * 1024
    max_message_bytes = SQS_MAX_MESSAGE_BYTES

    def __init__(self, topology: Topology, aws: AwsContext) -> None:
        self.topology = topology
        self.aws = aws  # its client is made on first use
        # A larger event goes by claim check.
        self.claim_check_bytes = aws.claim_check_threshold(self.max_message_bytes)

    def routes(self, event_name: str) -> list[str]:
        # From every manifest, also of modules that do not run in this process.
        return [module.name for module in self.topology.subscribers_of(event_name)]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        return self.aws.claims.send(
            envelopes, self.claim_check_bytes, lambda ready: self._send(route, ready)
        )

    def _send(self, route: str, envelopes: list[Envelope]) -> list[Outcome]:
        entries = [_entry(str(index), envelope) for index, envelope in enumerate(envelopes)]
        if route in self.aws.names.fifo_queues:
            add_fifo_fields(entries, envelopes, self.topology)
        response = self.aws.sqs_sender.send_message_batch(
            QueueUrl=self.aws.queues.url(route), Entries=entries
        )
        return batch_outcomes(len(envelopes), response)


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
