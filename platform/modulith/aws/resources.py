"""The AWS resources a topology needs, as data: what `provision` creates and `topology`
prints.

Every module that subscribes to events gets a queue, its dead-letter queue with a redrive
policy, and a rule on the bus routing its detail-types to the queue. The bus and rules exist
whatever MODULITH_TRANSPORT is, so foreign producers can always reach the modules.
"""

from dataclasses import asdict, dataclass
from typing import Any

from modulith.aws.names import ResourceNames
from modulith.modules import Topology

DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # the most SQS keeps a message
RULE_TARGET_ID = "module-queue"


@dataclass(frozen=True)
class QueueSpec:
    module: str
    name: str
    dead_letter_name: str
    max_receives: int
    visibility_timeout: int


@dataclass(frozen=True)
class RuleSpec:
    module: str
    name: str
    bus: str
    detail_types: tuple[str, ...]
    queue_name: str

    def event_pattern(self) -> dict[str, Any]:
        return {"detail-type": list(self.detail_types)}


@dataclass(frozen=True)
class AwsTopology:
    bus: str
    queues: tuple[QueueSpec, ...]
    rules: tuple[RuleSpec, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "bus": self.bus,
            "queues": [asdict(queue) for queue in self.queues],
            "rules": [asdict(rule) | {"eventPattern": rule.event_pattern()} for rule in self.rules],
        }


def aws_topology(
    topology: Topology, names: ResourceNames, *, max_receives: int, visibility_timeout: int
) -> AwsTopology:
    subscribers = [module for module in topology.modules if module.handles]
    return AwsTopology(
        bus=names.bus,
        queues=tuple(
            QueueSpec(
                module=module.name,
                name=names.queue(module.name),
                dead_letter_name=names.dead_letter_queue(module.name),
                max_receives=max_receives,
                visibility_timeout=visibility_timeout,
            )
            for module in subscribers
        ),
        rules=tuple(
            RuleSpec(
                module=module.name,
                name=names.rule(module.name),
                bus=names.bus,
                detail_types=tuple(sorted(module.handled_event_names)),
                queue_name=names.queue(module.name),
            )
            for module in subscribers
        ),
    )


def queue_policy(queue_arn: Any, rule_arn: Any) -> dict[str, Any]:
    """Lets the module's rule, and only it, deliver events to the module's queue. The ARNs are
    strings, or CloudFormation references in a template."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowModuleRule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
