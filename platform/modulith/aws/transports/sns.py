"""Events onto the topic of the module that publishes them (PublishBatch, 10 a call). Each
subscribing module's queue subscribes to the topics of the modules whose events it handles,
with a filter policy on the event name attribute and raw message delivery: the queue receives
the wire JSON itself, with the attributes, as if the relay had sent it there."""

from collections.abc import Sequence
from typing import Any

from modulith.aws.context import AwsContext
from modulith.aws.messages import add_fifo_fields, message_attributes
from modulith.aws.names import is_fifo
from modulith.aws.transports.batches import batch_outcomes
from modulith.modules import Topology
from modulith.transports.envelope import Envelope
from modulith.transports.transport import Outcome


class SnsTransport:
    name = "sns"
    batch_size = 10
    # PublishBatch carries at most 256 KiB in all, as one message does.
    max_batch_bytes = 256 * 1024
    max_message_bytes = 256 * 1024

    def __init__(self, topology: Topology, aws: AwsContext) -> None:
        self.topology = topology
        self.aws = aws  # its clients are made on first use
        # A larger event goes by claim check.
        self.claim_check_bytes = aws.claim_check_threshold(self.max_message_bytes)

    def routes(self, event_name: str) -> list[str]:
        # Every event goes on its publisher's topic, whoever subscribes (maybe no one yet).
        return [self.aws.names.topic(self.topology.publisher_of(event_name).name)]

    def send(
        self, route: str, envelopes: Sequence[Envelope], *, first_attempt: bool = False
    ) -> list[Outcome]:
        return self.aws.claims.send(
            envelopes, self.claim_check_bytes, lambda ready: self._send(route, ready)
        )

    def _send(self, route: str, envelopes: list[Envelope]) -> list[Outcome]:
        entries = [_entry(str(index), envelope) for index, envelope in enumerate(envelopes)]
        if is_fifo(route):
            add_fifo_fields(entries, envelopes, self.topology)
        response = self.aws.sns.publish_batch(
            TopicArn=self.aws.topics.arn(route), PublishBatchRequestEntries=entries
        )
        return batch_outcomes(len(envelopes), response)


def _entry(entry_id: str, envelope: Envelope) -> dict[str, Any]:
    # No trace header: PublishBatch has none per entry. The traceparent travels in the body
    # and, for whoever reads only attributes, as one (raw delivery keeps them).
    return {
        "Id": entry_id,
        "Message": envelope.to_json(),
        "MessageAttributes": message_attributes(envelope),
    }
