"""Creating the AWS resources of a topology, idempotently: a second run changes nothing."""

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from modulith.aws.resources import (
    DEAD_LETTER_RETENTION_SECONDS,
    RULE_TARGET_ID,
    AwsTopology,
    QueueSpec,
    RuleSpec,
    queue_policy,
)

_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_JSON_ATTRIBUTES = {"RedrivePolicy", "Policy"}


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
    def __init__(self, sqs: Any, events: Any, *, dry_run: bool = False) -> None:
        self.sqs = sqs
        self.events = events
        self.dry_run = dry_run
        self.changes: list[Change] = []

    def apply(self, resources: AwsTopology) -> list[Change]:
        queue_arns = {queue.name: self._module_queue(queue) for queue in resources.queues}
        self._bus(resources.bus)
        for rule in resources.rules:
            self._rule(rule, queue_arns.get(rule.queue_name))
        return self.changes

    def _change(self, action: str, kind: str, name: str, detail: str = "") -> bool:
        """Records a change; True when it should be carried out."""
        self.changes.append(Change(action, kind, name, detail))
        return not self.dry_run

    # Queues ---------------------------------------------------------------------------

    def _module_queue(self, spec: QueueSpec) -> str | None:
        dead_letter_arn = self._queue(
            spec.dead_letter_name,
            {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_SECONDS)},
            kind="dead-letter queue",
        )
        attributes = {"VisibilityTimeout": str(spec.visibility_timeout)}
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
        stale = {k: v for k, v in attributes.items() if not _same(k, current.get(k), v)}
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

    def _rule(self, spec: RuleSpec, queue_arn: str | None) -> None:
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
            self._queue_policy(spec, queue_arn, rule_arn)
        elif self.dry_run:  # the queue or the rule is only planned: so are these
            self._change("create", "rule target", spec.name, spec.queue_name)
            self._change("create", "queue policy", spec.queue_name, f"allow {spec.name}")

    def _describe_rule(self, spec: RuleSpec) -> dict[str, Any] | None:
        try:
            rule: dict[str, Any] = self.events.describe_rule(Name=spec.name, EventBusName=spec.bus)
        except self.events.exceptions.ResourceNotFoundException:
            return None
        return rule

    def _target(self, spec: RuleSpec, queue_arn: str) -> None:
        targets = self.events.list_targets_by_rule(Rule=spec.name, EventBusName=spec.bus)
        if [(t["Id"], t["Arn"]) for t in targets["Targets"]] == [(RULE_TARGET_ID, queue_arn)]:
            return
        action = "update" if targets["Targets"] else "create"
        if self._change(action, "rule target", spec.name, spec.queue_name):
            self.events.put_targets(
                Rule=spec.name,
                EventBusName=spec.bus,
                Targets=[{"Id": RULE_TARGET_ID, "Arn": queue_arn}],
            )

    def _queue_policy(self, spec: RuleSpec, queue_arn: str, rule_arn: str) -> None:
        url = self._queue_url(spec.queue_name)
        assert url is not None  # created above
        policy = json.dumps(queue_policy(queue_arn, rule_arn))
        current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        existing = current.get("Attributes", {}).get("Policy")
        if _same("Policy", existing, policy):
            return
        action = "update" if existing else "create"
        if self._change(action, "queue policy", spec.queue_name, f"allow {spec.name}"):
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


def _same(attribute: str, current: str | None, wanted: str) -> bool:
    if current is None:
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
