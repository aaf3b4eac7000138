"""The queue transports as a test parametrised over them sees them: what the relay calls, where
a delivery goes, what a subscriber's queue receives."""

from dataclasses import dataclass

from tests.aws.emulator import AwsContext

SEND_BATCH = "AmazonSQS.SendMessageBatch"
PUT_EVENTS = "AWSEvents.PutEvents"
PUBLISH_BATCH = "sns.PublishBatch"


@dataclass(frozen=True)
class Relayed:
    """A transport the relay sends through, and what a test reads of it."""

    transport: str  # MODULITH_TRANSPORT
    call: str  # the batch call that sends, ten entries to a call
    # The queue receives the wire JSON itself, with the event's name and id in message
    # attributes; otherwise EventBridge's own envelope around it.
    raw: bool

    def route(self, aws: AwsContext, publisher: str, subscriber: str) -> str:
        """The route of a delivery of `publisher`'s event to `subscriber`: the subscriber's
        queue, the bus, or the publisher's topic."""
        routes = {"sqs": subscriber, "eventbridge": aws.bus, "sns": f"{aws.prefix}-{publisher}"}
        return routes[self.transport]


RELAYED = {
    relayed.transport: relayed
    for relayed in (
        Relayed("sqs", SEND_BATCH, raw=True),
        Relayed("sns", PUBLISH_BATCH, raw=True),
        Relayed("eventbridge", PUT_EVENTS, raw=False),
    )
}
