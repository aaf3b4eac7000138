"""What a module's processes are allowed to do with the messaging topology, alike on ECS and
Lambda: publish its own events (and nothing in another module's name), and consume its own
queue. The roles that hold these statements are each shape's (`ecs_iam`, `lambda_iam`)."""

from collections.abc import Callable
from typing import Any

from modulith.aws.names import ResourceNames
from modulith.deployment.alarms import routes_of
from modulith.deployment.cfn import arn
from modulith.modules import Module, Topology

Statement = dict[str, Any]


def publishing(
    topology: Topology, module: Module, names: ResourceNames, transport: str
) -> list[Statement]:
    """What the module's relay needs to deliver its events with this transport."""
    allowed = _PUBLISHING[transport](topology, module, names) if module.publishes else None
    return [{"Sid": "Publish", "Effect": "Allow", **allowed}] if allowed else []


def own_queue(module: Module, names: ResourceNames, actions: list[str]) -> list[Statement]:
    """The module's own queue (`actions`: what its kind of consumer does with it), and its own
    dead-letter queue, for what can never be handled."""
    return [
        {
            "Sid": "OwnQueue",
            "Effect": "Allow",
            "Action": actions,
            "Resource": queue_arn(names.queue(module.name)),
        },
        {
            "Sid": "OwnDeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": queue_arn(names.dead_letter_queue(module.name)),
        },
    ]


def queue_arn(name: str) -> dict[str, str]:
    return arn("sqs", name)


def _to_bus(topology: Topology, module: Module, names: ResourceNames) -> Statement:
    """The bus, for the module's own events only: each entry must carry the module's source
    and one of its detail-types (EventBridge checks every entry of a PutEvents call), so no
    process of one module can pass its events off as another's."""
    return {
        "Action": "events:PutEvents",
        "Resource": arn("events", f"event-bus/{names.bus}"),
        "Condition": {
            "StringEquals": {
                "events:source": module.source,
                "events:detail-type": sorted(e.event_name for e in module.publishes),
            }
        },
    }


def _to_topic(topology: Topology, module: Module, names: ResourceNames) -> Statement:
    """The module's own topic (PublishBatch is allowed by sns:Publish; the topic's ARN comes
    from STS GetCallerIdentity, which needs no permission)."""
    return {"Action": "sns:Publish", "Resource": arn("sns", names.topic(module.name))}


def _to_queues(topology: Topology, module: Module, names: ResourceNames) -> Statement | None:
    """The queues of the modules that subscribe to what this one publishes, and no other."""
    subscribers = routes_of(topology, module, "sqs", names)  # module names, for sqs
    if not subscribers:
        return None
    return {
        "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
        "Resource": [queue_arn(names.queue(name)) for name in subscribers],
    }


_PUBLISHING: dict[str, Callable[[Topology, Module, ResourceNames], Statement | None]] = {
    "eventbridge": _to_bus,
    "sns": _to_topic,
    "sqs": _to_queues,
}
