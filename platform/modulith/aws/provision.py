"""Creating the AWS resources of a topology, idempotently: a second run changes nothing."""

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from modulith.aws.bucket_provisioning import BucketProvisioner
from modulith.aws.context import AwsContext
from modulith.aws.resources import (
    DEAD_LETTER_RETENTION_SECONDS,
    AwsTopology,
    QueueSpec,
    RuleSpec,
    SubscriptionSpec,
    TopicSpec,
    dead_letter_queue_policy,
    queue_policy,
    topic_policy,
)

_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_JSON_ATTRIBUTES = {"RedrivePolicy", "Policy", "FilterPolicy"}


@dataclass(frozen=True)
class Change:
    action: str  # "create" or "update"
    kind: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.name}" + (
            f" ({self.detail})" if self.detail else ""
        )


class Provisioner:
    def __init__(self, aws: AwsContext, *, dry_run: bool = False) -> None:
        self.aws = aws  # its clients are made on first use: SNS's only for topics
        self.dry_run = dry_run
        self.changes: list[Change] = []

    @property
    def sqs(self) -> Any:
        return self.aws.sqs

    @property
    def events(self) -> Any:
        return self.aws.events

    @property
    def sns(self) -> Any:
        return self.aws.sns

    def apply(self, resources: AwsTopology) -> list[Change]:
        queue_arns = {queue.name: self._module_queue(queue) for queue in resources.queues}
        self._bus(resources.bus)
        topic_arns = {topic.name: self._topic(topic) for topic in resources.topics}
        for rule in resources.rules:
            queue_arn = queue_arns.get(rule.queue_name)
            rule_arn = self._rule(rule, queue_arn)
            topics = [s.topic_name for s in resources.subscriptions_of(rule.module)]
            self._module_queue_policy(
                rule, queue_arn, rule_arn, {topic: topic_arns.get(topic) for topic in topics}
            )
        for subscription in resources.subscriptions:
            self._subscription(
                subscription,
                topic_arns.get(subscription.topic_name),
                queue_arns.get(subscription.queue_name),
            )
        BucketProvisioner(
            self.aws.s3, self.aws.region or "", self.aws.identity.partition, self._change
        ).apply(resources.bucket, self.aws.claim_check_bucket)
        return self.changes

    def _change(self, action: str, kind: str, name: str, detail: str = "") -> bool:
        """Records a change; True when it should be carried out."""
        self.changes.append(Change(action, kind, name, detail))
        return not self.dry_run

    # Queues ---------------------------------------------------------------------------

    def _module_queue(self, spec: QueueSpec) -> str | None:
        dead_letter_arn = self._queue(
            spec.dead_letter_name,
            {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)} | spec.attributes(),
            kind="dead-letter queue",
        )
        self._queue_policy(
            spec.dead_letter_name,
            dead_letter_queue_policy(dead_letter_arn) if dead_letter_arn else None,
            "deny non-TLS",
        )
        attributes = {"VisibilityTimeout": str(spec.visibility_timeout)} | spec.attributes()
        if dead_letter_arn:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": spec.max_receives}
            )
        return self._queue(spec.name, attributes, kind="queue")

    def _queue(self, name: str, attributes: dict[str, str], *, kind: str) -> str | None:
        """Ensures the queue has these attributes; its ARN (None when only planned)."""
        url = self._queue_url(name)
        if url is None:
            if not self._change("create", kind, name):
                return None
            url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            return self._queue_arn(url)
        current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        # Whether a queue is FIFO is its name's: set at creation, never changed.
        stale = {
            k: v
            for k, v in attributes.items()
            if k != "FifoQueue" and not _same(k, current.get(k), v)
        }
        if stale and self._change("update", kind, name, ", ".join(sorted(stale))):
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=stale)
        return str(current["QueueArn"])

    def _queue_url(self, name: str) -> str | None:
        try:
            return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError as error:
            if error.response["Error"]["Code"] in _MISSING_QUEUE:
                return None
            raise

    def _queue_arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    # The bus and its rules ------------------------------------------------------------

    def _bus(self, name: str) -> None:
        try:
            self.events.describe_event_bus(Name=name)
        except self.events.exceptions.ResourceNotFoundException:
            if self._change("create", "event bus", name):
                self.events.create_event_bus(Name=name)

    def _rule(self, spec: RuleSpec, queue_arn: str | None) -> str | None:
        """Ensures the rule and its target; the rule's ARN (None when only planned)."""
        current = self._describe_rule(spec)
        rule_arn = current["Arn"] if current else None
        if current is None:
            action, detail = "create", " ".join(spec.detail_types)
        elif (
            json.loads(current.get("EventPattern", "{}")) != spec.event_pattern()
            or current.get("State") != "ENABLED"
        ):
            action, detail = "update", "event pattern"
        else:
            action, detail = "", ""
        if action and self._change(action, "rule", spec.name, detail):
            rule_arn = self.events.put_rule(
                Name=spec.name,
                EventBusName=spec.bus,
                EventPattern=json.dumps(spec.event_pattern()),
                State="ENABLED",
            )["RuleArn"]
        if queue_arn and rule_arn:
            self._target(spec, queue_arn)
        elif self.dry_run:  # the queue or the rule is only planned: so is its target
            self._change("create", "rule target", spec.name, spec.queue_name)
        return str(rule_arn) if rule_arn else None

    def _describe_rule(self, spec: RuleSpec) -> dict[str, Any] | None:
        try:
            rule: dict[str, Any] = self.events.describe_rule(Name=spec.name, EventBusName=spec.bus)
        except self.events.exceptions.ResourceNotFoundException:
            return None
        return rule

    def _target(self, spec: RuleSpec, queue_arn: str) -> None:
        targets = self.events.list_targets_by_rule(Rule=spec.name, EventBusName=spec.bus)
        wanted = spec.target(queue_arn)
        if [{k: t.get(k) for k in wanted} for t in targets["Targets"]] == [wanted]:
            return
        action = "update" if targets["Targets"] else "create"
        if self._change(action, "rule target", spec.name, spec.queue_name):
            self.events.put_targets(Rule=spec.name, EventBusName=spec.bus, Targets=[wanted])

    def _module_queue_policy(
        self,
        rule: RuleSpec,
        queue_arn: str | None,
        rule_arn: str | None,
        topic_arns: dict[str, str | None],
    ) -> None:
        """Lets the module's rule and its topics, and only them, send to its queue."""
        detail = f"allow {rule.name}" + (
            f" and topics {', '.join(topic_arns)}" if topic_arns else ""
        )
        sources = [arn for arn in topic_arns.values() if arn]
        known = queue_arn and rule_arn and len(sources) == len(topic_arns)
        policy = queue_policy(queue_arn, rule_arn, sources) if known else None
        self._queue_policy(rule.queue_name, policy, detail)

    def _queue_policy(self, name: str, policy: dict[str, Any] | None, detail: str) -> None:
        """Ensures the queue's policy; `policy` is None while the queue, or something the
        policy names, is only planned (a dry run)."""
        url = self._queue_url(name)
        existing = None
        if url is not None:
            current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            existing = current.get("Attributes", {}).get("Policy")
        action = "update" if existing else "create"
        if url is None or policy is None:
            self._change(action, "queue policy", name, detail)
            return
        wanted = json.dumps(policy)
        if not _same("Policy", existing, wanted) and self._change(
            action, "queue policy", name, detail
        ):
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": wanted})

    # Topics and their subscriptions (the sns transport) -------------------------------

    def _topic(self, spec: TopicSpec) -> str | None:
        """Ensures the topic exists, with its policy; its ARN (None when only planned)."""
        arn = self.aws.topics.arn(spec.name)
        try:
            attributes = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        except self.sns.exceptions.NotFoundException:
            created = self._change("create", "topic", spec.name)
            if created:
                arn = str(
                    self.sns.create_topic(Name=spec.name, Attributes=spec.attributes())["TopicArn"]
                )
            # A new topic has AWS's default policy, which lets the account do anything.
            self._topic_policy(spec, arn if created else None, "create")
            return arn if created else None
        self._topic_policy(spec, arn, "update", attributes.get("Policy"))
        return arn

    def _topic_policy(
        self, spec: TopicSpec, arn: str | None, action: str, current: str | None = None
    ) -> None:
        detail = "publish from this account only, over TLS"
        if arn is None:  # the topic is only planned: so is its policy
            self._change(action, "topic policy", spec.name, detail)
            return
        wanted = json.dumps(topic_policy(arn, arn.split(":")[4]))
        if not _same("Policy", current, wanted) and self._change(
            action, "topic policy", spec.name, detail
        ):
            self.sns.set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=wanted
            )

    def _subscription(
        self, spec: SubscriptionSpec, topic_arn: str | None, queue_arn: str | None
    ) -> None:
        """Ensures the queue's subscription to the topic, with its filter policy and raw
        message delivery."""
        name = f"{spec.queue_name} to {spec.topic_name}"
        wanted = {
            "FilterPolicy": json.dumps(spec.filter_policy()),
            "RawMessageDelivery": "true",
        }
        existing = self._find_subscription(topic_arn, queue_arn)
        if existing is None:
            # Carried out only in a real run, where the topic and the queue were created.
            if self._change("create", "subscription", name, " ".join(spec.event_names)):
                self.sns.subscribe(
                    TopicArn=topic_arn,
                    Protocol="sqs",
                    Endpoint=queue_arn,
                    Attributes=wanted,
                    ReturnSubscriptionArn=True,
                )
            return
        current = self.sns.get_subscription_attributes(SubscriptionArn=existing)["Attributes"]
        stale = {k: v for k, v in wanted.items() if not _same(k, current.get(k), v)}
        if stale and self._change("update", "subscription", name, ", ".join(sorted(stale))):
            for attribute, value in stale.items():
                self.sns.set_subscription_attributes(
                    SubscriptionArn=existing, AttributeName=attribute, AttributeValue=value
                )

    def _find_subscription(self, topic_arn: str | None, queue_arn: str | None) -> str | None:
        """The ARN of the queue's subscription to the topic, if both exist and it does."""
        if topic_arn is None or queue_arn is None:
            return None
        pages = self.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
        for page in pages:
            for subscription in page["Subscriptions"]:
                if subscription["Protocol"] == "sqs" and subscription["Endpoint"] == queue_arn:
                    return str(subscription["SubscriptionArn"])
        return None


def _same(attribute: str, current: str | None, wanted: str) -> bool:
    if not current:  # absent, or emptied by hand
        return False
    if attribute in _JSON_ATTRIBUTES:
        return bool(_normalised(json.loads(current)) == _normalised(json.loads(wanted)))
    return current == wanted


def _normalised(value: Any) -> Any:
    """JSON with numbers as strings: AWS gives maxReceiveCount back as either."""
    if isinstance(value, dict):
        return {key: _normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    return str(value)
