"""The AWS transports as the runtime finds them by name (`modulith.runtime.transports`): each
built on an AWS context from the settings, with the modules' queues to consume and their
dead-letter queues."""

from modulith.aws.context import AwsContext
from modulith.aws.dead_letter_queues import QueueDeadLetters
from modulith.aws.names import bucket_name_problem
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
    if aws.claim_check:
        _check_bucket_name(aws, settings, aws.region)
    return aws


def _check_bucket_name(aws: AwsContext, settings: ModulithSettings, region: str) -> None:
    """The claim-check bucket's name is one S3 takes: refused at start, not at the first large
    event or at provisioning."""
    bucket = aws.names.bucket(account="0" * 12, region=region)  # an account id has 12 digits
    problem = bucket_name_problem(bucket)
    if problem is None:
        return
    if settings.claim_check_bucket:
        named = f"MODULITH_CLAIM_CHECK_BUCKET={settings.claim_check_bucket}"
    else:
        named = (
            f"the claim-check bucket named after MODULITH_QUEUE_PREFIX={settings.queue_prefix}, "
            f"{aws.names.bucket(account='<account>', region=region)},"
        )
    raise ConfigurationError(
        f"{named} is no S3 bucket name ({problem}): set MODULITH_CLAIM_CHECK_BUCKET to one, "
        "or MODULITH_CLAIM_CHECK=0 to send no event by claim check"
    )


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
