"""Everything the AWS side of the framework needs, from settings; clients made on first use."""

from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from modulith.aws.claim_checks import ClaimChecks
from modulith.aws.clients import client, default_region
from modulith.aws.names import CallerIdentity, QueueDirectory, ResourceNames, TopicDirectory
from modulith.aws.resources import AwsTopology, aws_topology
from modulith.conf import ModulithSettings
from modulith.modules import Topology
from modulith.runtime import Runtime

# Long polls must be answered before the client gives up on the connection.
_READ_TIMEOUT_MARGIN = 10
# The relay's sends give up well within a claim (MODULITH_CLAIM_SECONDS, 15 s by default):
# two tries of at most 2 s to connect and 5 s to answer. A route that does not answer is
# backed off as a whole by the relay, so botocore's own retries need not wait it out.
_sender = partial(client, connect_timeout=2.0, read_timeout=5.0, attempts=2)


@dataclass
class AwsContext:
    names: ResourceNames
    max_receives: int
    visibility_timeout: int
    wait_seconds: int
    # The events fan out through a topic per publishing module (the sns transport): the
    # resources then include the topics and the queues' subscriptions to them.
    fan_out: bool = False
    # Whether the relay sends events too large for their transport by claim check, and above
    # how many bytes, if lower than each transport's own limit.
    claim_check: bool = True
    claim_check_bytes: int | None = None

    @classmethod
    def from_settings(
        cls,
        settings: ModulithSettings,
        *,
        fan_out: bool = False,
        topology: Topology | None = None,
    ) -> "AwsContext":
        """`topology`: the modules whose resources are named (the settings' by default)."""
        names = ResourceNames.of(
            topology or settings.topology,
            prefix=settings.queue_prefix,
            bus=settings.event_bus,
            claim_check_bucket=settings.claim_check_bucket,
        )
        return cls(
            names=names,
            max_receives=settings.max_receives,
            visibility_timeout=settings.visibility_timeout,
            wait_seconds=settings.consumer_wait_seconds,
            fan_out=fan_out,
            claim_check=settings.claim_check,
            claim_check_bytes=settings.claim_check_bytes,
        )

    def claim_check_threshold(self, max_message_bytes: int) -> int | None:
        """Above how many bytes of wire JSON a transport that takes messages of at most
        `max_message_bytes` sends an event by claim check; None when it never does."""
        if not self.claim_check:
            return None
        return self.claims.threshold(max_message_bytes, self.claim_check_bytes)

    @cached_property
    def sqs(self) -> Any:
        return client("sqs", read_timeout=self.wait_seconds + _READ_TIMEOUT_MARGIN)

    @cached_property
    def sqs_sender(self) -> Any:
        """SQS for the relay's sends: short timeouts, unlike the consumer's long polls."""
        return _sender("sqs")

    @cached_property
    def events(self) -> Any:
        return _sender("events")

    @cached_property
    def sns(self) -> Any:
        return _sender("sns")

    @cached_property
    def s3(self) -> Any:
        """S3 for claim checks, timed like the relay's sends: the relay stores in its delivery."""
        return _sender("s3")

    @cached_property
    def claims(self) -> ClaimChecks:
        return ClaimChecks(self)

    @cached_property
    def claim_check_bucket(self) -> str:
        return self.names.bucket(account=self.identity.account, region=self.region or "")

    @cached_property
    def identity(self) -> CallerIdentity:
        return CallerIdentity(_sender("sts"))

    @property
    def region(self) -> str | None:
        """The region boto3 would use (environment, profile or instance metadata config)."""
        return default_region()

    def client(self, service: str) -> Any:
        return client(service)

    @cached_property
    def queues(self) -> QueueDirectory:
        return QueueDirectory(self.sqs, self.names)

    @cached_property
    def topics(self) -> TopicDirectory:
        return TopicDirectory(self.identity, self.region or "")

    def resources(self, topology: Topology) -> AwsTopology:
        return aws_topology(
            topology,
            self.names,
            max_receives=self.max_receives,
            visibility_timeout=self.visibility_timeout,
            fan_out=self.fan_out,
        )


def aws_context(current: Runtime) -> AwsContext:
    """The AWS context of a runtime: its transport's when its events travel through AWS (one set
    of clients for the process), else one from its settings (to provision, or drain a queue)."""
    aws = getattr(current.transport, "aws", None)
    if isinstance(aws, AwsContext):
        return aws
    return AwsContext.from_settings(
        current.settings, fan_out=current.kind.fans_out, topology=current.topology
    )
