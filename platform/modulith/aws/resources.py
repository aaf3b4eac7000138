"""The AWS resources a topology needs, as data: what `provision` creates and `topology`
prints.

Every module that subscribes to events gets a queue, its dead-letter queue with a redrive
policy, and a rule on the bus routing to the queue each of its detail-types from the sources
it believes it from: the module that publishes it, and the producers outside the application
the subscriber declares (`Module.accepts_from`). The bus and rules exist whatever
MODULITH_TRANSPORT is, so declared foreign producers can always reach the modules. With the
sns transport, every module that publishes events also gets a topic, and each subscribing
module's queue a subscription to the topic of every module whose events it handles: a filter
policy on the event name attribute lets through only those events, and raw message delivery
hands the queue the wire JSON itself.

A module that handles an ordered event (one whose type declares an ordering key) gets a FIFO
queue and dead-letter queue (`.fifo`), and with the sns transport the topics that feed it are
FIFO too (a standard topic cannot deliver to a FIFO queue): the message group is the event's
key (its own id for an unordered event), the deduplication id its event id, content-based
deduplication off. The rule's target on such a queue puts every event from the bus in one
message group: EventBridge sets no group per event.

The policies agree with the manifests: a module queue admits only its rule and the topics it
subscribes to, a topic only publishers of its own account (whose roles may publish only to
their own module's topic), and every queue and topic refuses requests that are not over TLS.

The claim-check bucket holds the data of events too large for their transport
(`modulith.aws.claim_checks`): encrypted at rest (SSE-S3), closed to the public, TLS only, each
object expired once no message that refers to it can still be delivered: the redelivery window
of a queue's retention (SQS's default, 4 days) and its dead-letter queue's (14 days), plus a
day's margin.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from modulith.aws.messages import EVENT_NAME
from modulith.aws.names import ResourceNames
from modulith.contracts.evolution import names_of
from modulith.modules import Module, Topology

DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # the most SQS keeps a message
# How long a module queue keeps a message: SQS's default, which provisioning leaves as it is.
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DAY_SECONDS = 24 * 3600
CLAIM_CHECK_EXPIRY_DAYS = (
    math.ceil((QUEUE_RETENTION_SECONDS + DEAD_LETTER_RETENTION_SECONDS) / DAY_SECONDS) + 1
)
CLAIM_CHECK_EXPIRY_RULE = "expire-after-redelivery-window"
RULE_TARGET_ID = "module-queue"


@dataclass(frozen=True)
class QueueSpec:
    module: str
    name: str
    dead_letter_name: str
    max_receives: int
    visibility_timeout: int
    fifo: bool = False

    def attributes(self) -> dict[str, str]:
        """The queue's attributes (the dead-letter queue's too, as to FIFO), as SQS takes them."""
        return FIFO_QUEUE_ATTRIBUTES if self.fifo else {}


# A FIFO queue whose messages are deduplicated by the id each carries (the event id), not by
# their content; in the high-throughput mode, per message group.
FIFO_QUEUE_ATTRIBUTES = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "messageGroup",
    "FifoThroughputLimit": "perMessageGroupId",
}
FIFO_TOPIC_ATTRIBUTES = {"FifoTopic": "true", "ContentBasedDeduplication": "false"}


@dataclass(frozen=True)
class RuleSpec:
    module: str
    name: str
    bus: str
    queue_name: str
    # By detail-type, the sources the module believes it from.
    sources: Mapping[str, tuple[str, ...]] = field(hash=False)
    fifo: bool = False  # its queue is FIFO: the target names the one message group

    def target(self, queue_arn: Any) -> dict[str, Any]:
        """The rule's target, the module's queue."""
        target: dict[str, Any] = {"Id": RULE_TARGET_ID, "Arn": queue_arn}
        if self.fifo:
            target["SqsParameters"] = {"MessageGroupId": self.module}
        return target

    @property
    def detail_types(self) -> tuple[str, ...]:
        return tuple(sorted(self.sources))

    def event_pattern(self) -> dict[str, Any]:
        """Each detail-type from its own sources only: the detail-types believed from the same
        sources share a pattern, and several patterns are alternatives (`$or`)."""
        by_sources: dict[tuple[str, ...], list[str]] = {}
        for detail_type in self.detail_types:
            by_sources.setdefault(tuple(sorted(self.sources[detail_type])), []).append(detail_type)
        patterns = [
            {"source": list(sources), "detail-type": detail_types}
            for sources, detail_types in sorted(by_sources.items())
        ]
        return patterns[0] if len(patterns) == 1 else {"$or": patterns}


@dataclass(frozen=True)
class TopicSpec:
    module: str  # the publisher
    name: str
    fifo: bool = False

    def attributes(self) -> dict[str, str]:
        return FIFO_TOPIC_ATTRIBUTES if self.fifo else {}


@dataclass(frozen=True)
class SubscriptionSpec:
    module: str  # the subscriber
    publisher: str
    topic_name: str
    queue_name: str
    event_names: tuple[str, ...]  # those of the publisher's events the subscriber handles

    def filter_policy(self) -> dict[str, Any]:
        return {EVENT_NAME: list(self.event_names)}


@dataclass(frozen=True)
class BucketSpec:
    """The claim-check bucket: `name` holds ${AWS::AccountId} and ${AWS::Region} where a
    derived name carries them (`ResourceNames.bucket_template`)."""

    name: str
    expiry_days: int = CLAIM_CHECK_EXPIRY_DAYS


@dataclass(frozen=True)
class AwsTopology:
    bus: str
    queues: tuple[QueueSpec, ...]
    rules: tuple[RuleSpec, ...]
    bucket: BucketSpec
    topics: tuple[TopicSpec, ...] = ()
    subscriptions: tuple[SubscriptionSpec, ...] = ()

    def subscriptions_of(self, module: str) -> tuple[SubscriptionSpec, ...]:
        return tuple(s for s in self.subscriptions if s.module == module)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bus": self.bus,
            "claimCheckBucket": asdict(self.bucket),
            "queues": [asdict(queue) for queue in self.queues],
            "rules": [asdict(rule) | {"eventPattern": rule.event_pattern()} for rule in self.rules],
            "topics": [asdict(topic) for topic in self.topics],
            "subscriptions": [
                asdict(subscription) | {"filterPolicy": subscription.filter_policy()}
                for subscription in self.subscriptions
            ],
        }


def aws_topology(
    topology: Topology,
    names: ResourceNames,
    *,
    max_receives: int,
    visibility_timeout: int,
    fan_out: bool = False,
) -> AwsTopology:
    subscribers = [module for module in topology.modules if module.handles]
    publishers = [module for module in topology.modules if module.publishes] if fan_out else []
    return AwsTopology(
        bus=names.bus,
        queues=tuple(
            QueueSpec(
                module=module.name,
                name=names.queue(module.name),
                dead_letter_name=names.dead_letter_queue(module.name),
                max_receives=max_receives,
                visibility_timeout=visibility_timeout,
                fifo=module.name in names.fifo_queues,
            )
            for module in subscribers
        ),
        bucket=BucketSpec(name=names.bucket_template()),
        rules=tuple(
            RuleSpec(
                module=module.name,
                name=names.rule(module.name),
                bus=names.bus,
                queue_name=names.queue(module.name),
                sources={
                    event: topology.sources_of(module, event)
                    for event in module.answered_event_names
                },
                fifo=module.name in names.fifo_queues,
            )
            for module in subscribers
        ),
        topics=tuple(
            TopicSpec(
                module=module.name,
                name=names.topic(module.name),
                fifo=module.name in names.fifo_topics,
            )
            for module in publishers
        ),
        subscriptions=tuple(
            SubscriptionSpec(
                module=subscriber.name,
                publisher=publisher.name,
                topic_name=names.topic(publisher.name),
                queue_name=names.queue(subscriber.name),
                event_names=events,
            )
            for subscriber in subscribers
            for publisher in publishers
            if (events := _handled_of(subscriber, publisher))
        ),
    )


def _handled_of(subscriber: Module, publisher: Module) -> tuple[str, ...]:
    published = {name for event_type in publisher.publishes for name in names_of(event_type)}
    return tuple(sorted(published & set(subscriber.answered_event_names)))


def queue_policy(queue_arn: Any, rule_arn: Any, topic_arns: Sequence[Any] = ()) -> dict[str, Any]:
    """Lets the module's rule, and the topics it subscribes to, and nothing else, deliver
    events to the module's queue, over TLS only. The ARNs are strings, or CloudFormation
    references in a template."""
    statements = [_allow("AllowModuleRule", "events.amazonaws.com", queue_arn, rule_arn)]
    if topic_arns:
        sources = topic_arns[0] if len(topic_arns) == 1 else list(topic_arns)
        statements.append(_allow("AllowModuleTopics", "sns.amazonaws.com", queue_arn, sources))
    statements.append(_deny_insecure_transport("sqs:*", queue_arn))
    return {"Version": "2012-10-17", "Statement": statements}


def dead_letter_queue_policy(queue_arn: Any) -> dict[str, Any]:
    """A dead-letter queue takes what its module's consumer and redrive policy put there, over
    TLS only."""
    return {"Version": "2012-10-17", "Statement": [_deny_insecure_transport("sqs:*", queue_arn)]}


def topic_policy(topic_arn: Any, account: Any) -> dict[str, Any]:
    """A module's topic takes publications only from principals of its own account, whose
    roles may publish only to their own module's topic, and only over TLS: no other account
    and no AWS service speaks on it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublishFromTheAccountOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringNotEquals": {"aws:PrincipalAccount": account}},
            },
            _deny_insecure_transport("sns:Publish", topic_arn),
        ],
    }


def bucket_policy(bucket_arn: Any) -> dict[str, Any]:
    """The claim-check bucket, over TLS only; who may put and get what is each module role's
    (a producer its own source's prefix, a consumer the sources it believes)."""
    objects = (
        {"Fn::Sub": ["${Bucket}/*", {"Bucket": bucket_arn}]}
        if isinstance(bucket_arn, dict)
        else f"{bucket_arn}/*"
    )
    return {
        "Version": "2012-10-17",
        "Statement": [_deny_insecure_transport("s3:*", [bucket_arn, objects])],
    }


def _deny_insecure_transport(action: str, resource: Any) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _allow(sid: str, service: str, queue_arn: Any, source_arns: Any) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arns}},
    }
