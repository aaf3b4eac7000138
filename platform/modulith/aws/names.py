"""How the AWS resources of a topology are named."""

import re
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from modulith.modules import Topology

# What AWS requires at the end of a FIFO queue's or topic's name.
FIFO_SUFFIX = ".fifo"

# The account and region in a bucket's name, as CloudFormation's Fn::Sub writes them.
ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"


# S3's rules for a bucket's name: 3 to 63 lowercase letters, digits, dots and hyphens, from a
# letter or digit to a letter or digit; no two dots together, and not an IP address.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")


def bucket_name_problem(name: str) -> str | None:
    """What S3 would refuse in this bucket name, or None when it is one."""
    if not 3 <= len(name) <= 63:
        return f"it is {len(name)} characters long, where S3 takes 3 to 63"
    if not _BUCKET_NAME.fullmatch(name) or ".." in name:
        return (
            "S3 takes lowercase letters, digits, dots and hyphens, from a letter or digit to a "
            "letter or digit"
        )
    if _IP_ADDRESS.fullmatch(name):
        return "S3 takes no IP address as a name"
    return None


@dataclass(frozen=True)
class ResourceNames:
    prefix: str
    bus: str
    # The modules whose queues, and whose topics, are FIFO: they carry ordered events
    # (`Topology.fifo_queue_modules`, `fifo_topic_modules`).
    fifo_queues: frozenset[str] = frozenset()
    fifo_topics: frozenset[str] = frozenset()
    # The claim-check bucket, when named by MODULITH_CLAIM_CHECK_BUCKET (else derived).
    claim_check_bucket: str = ""

    @classmethod
    def of(
        cls, topology: Topology, *, prefix: str, bus: str, claim_check_bucket: str = ""
    ) -> "ResourceNames":
        return cls(
            prefix=prefix,
            bus=bus,
            fifo_queues=topology.fifo_queue_modules,
            fifo_topics=topology.fifo_topic_modules,
            claim_check_bucket=claim_check_bucket,
        )

    def queue(self, module: str) -> str:
        return f"{self.prefix}-{module}{self._fifo(module in self.fifo_queues)}"

    def dead_letter_queue(self, module: str) -> str:
        """A FIFO queue's dead-letter queue must be FIFO too."""
        return f"{self.prefix}-{module}-dlq{self._fifo(module in self.fifo_queues)}"

    def rule(self, module: str) -> str:
        return f"{self.prefix}-{module}"

    def topic(self, module: str) -> str:
        """The SNS topic of the events a module publishes (the sns transport)."""
        return f"{self.prefix}-{module}{self._fifo(module in self.fifo_topics)}"

    def bucket_template(self) -> str:
        """The claim-check bucket's name, with ACCOUNT and REGION where the account and region
        go: bucket names are global, so a derived one carries both."""
        return self.claim_check_bucket or f"{self.prefix.lower()}-claim-checks-{ACCOUNT}-{REGION}"

    def bucket(self, *, account: str, region: str) -> str:
        return self.bucket_template().replace(ACCOUNT, account).replace(REGION, region)

    @staticmethod
    def _fifo(fifo: bool) -> str:
        return FIFO_SUFFIX if fifo else ""


def is_fifo(name: str) -> bool:
    """Whether the queue or topic of this name (or URL, or ARN) is FIFO."""
    return name.endswith(FIFO_SUFFIX)


@dataclass
class QueueDirectory:
    """Queue URLs by module, looked up once (GetQueueUrl) and remembered."""

    sqs: Any
    names: ResourceNames
    _urls: dict[str, str] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def url(self, module: str) -> str:
        return self._url(self.names.queue(module))

    def dead_letter_url(self, module: str) -> str:
        return self._url(self.names.dead_letter_queue(module))

    def _url(self, name: str) -> str:
        with self._lock:
            if name not in self._urls:
                self._urls[name] = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            return self._urls[name]


@dataclass
class CallerIdentity:
    """The caller's account and partition (STS GetCallerIdentity, asked once; it needs no
    permission), for the names that carry them."""

    sts: Any
    _identity: tuple[str, str] | None = None
    _lock: Lock = field(default_factory=Lock)

    @property
    def account(self) -> str:
        return self._asked()[0]

    @property
    def partition(self) -> str:
        return self._asked()[1]

    def _asked(self) -> tuple[str, str]:
        with self._lock:
            if self._identity is None:
                identity = self.sts.get_caller_identity()
                self._identity = (str(identity["Account"]), str(identity["Arn"]).split(":")[1])
            return self._identity


@dataclass
class TopicDirectory:
    """Topic ARNs by topic name, built from the caller's account and partition, so that
    publishing needs no right to list or create topics."""

    identity: CallerIdentity
    region: str

    def arn(self, topic: str) -> str:
        identity = self.identity
        return f"arn:{identity.partition}:sns:{self.region}:{identity.account}:{topic}"
