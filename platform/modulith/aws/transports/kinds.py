"""The AWS transports as the runtime finds them by name (`modulith.runtime.transports`): each
built on an AWS context from the settings, with the modules' queues to consume and their
dead-letter queues."""

from modulith.aws.context import AwsContext
from modulith.aws.dead_letter_queues import QueueDeadLetters
from modulith.aws.transports.eventbridge import EventBridgeTransport
from modulith.aws.transports.sns import SnsTransport
from modulith.aws.transports.sqs import SqsTransport
from modulith.conf import ModulithSettings
from modulith.modules import Topology
from modulith.modules.errors import ConfigurationError
from modulith.outbox.dead_letters import DeadLetters
from modulith.runtime.transports import TransportKind
from modulith.transports.transport import Transport

QueueTransport = SqsTransport | SnsTransport | EventBridgeTransport


def _context(
    settings: ModulithSettings, topology: Topology, *, fan_out: bool = False
) -> AwsContext:
    aws = AwsContext.from_settings(settings, fan_out=fan_out, topology=topology)
    if not aws.region:
        raise ConfigurationError(
            f"MODULITH_TRANSPORT={settings.transport} needs an AWS region: set "
            "AWS_DEFAULT_REGION (or AWS_REGION, or a profile with a region)"
        )
    return aws


def _dead_letter_queues(transport: Transport) -> tuple[DeadLetters, ...]:
    assert isinstance(transport, QueueTransport)
    return (QueueDeadLetters(transport.aws),)


SQS = TransportKind(
    build=lambda topology, settings, dispatcher: SqsTransport(
        topology, _context(settings, topology)
    ),
    uses_queues=True,
    dead_letters=_dead_letter_queues,
)
SNS = TransportKind(
    build=lambda topology, settings, dispatcher: SnsTransport(
        topology, _context(settings, topology, fan_out=True)
    ),
    uses_queues=True,
    fans_out=True,
    dead_letters=_dead_letter_queues,
)
EVENTBRIDGE = TransportKind(
    build=lambda topology, settings, dispatcher: EventBridgeTransport(_context(settings, topology)),
    uses_queues=True,
    # A rule's SQS target takes one message group for every event (SqsParameters).
    keeps_key_order=False,
    dead_letters=_dead_letter_queues,
)
