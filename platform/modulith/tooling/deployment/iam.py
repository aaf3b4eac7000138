"""What a module's processes are allowed to do with the messaging topology, alike on ECS and
Lambda: publish its own events (and nothing in another module's name), with the claim checks
of its large events under its own source's prefix of the bucket; and consume its own queue,
reading the claim checks of the sources it believes. The roles that hold these statements are
each shape's (`ecs_iam`, `lambda_iam`)."""

from collections.abc import Callable
from typing import Any

from modulith.aws.names import ResourceNames
from modulith.modules import Module, Topology
from modulith.tooling.deployment.alarms import routes_of
from modulith.tooling.deployment.cfn import arn

Statement = dict[str, Any]


def publishing(
    topology: Topology, module: Module, names: ResourceNames, transport: str
) -> list[Statement]:
    """What the module's relay needs to deliver its events with this transport."""
    allowed = _PUBLISHING[transport](topology, module, names) if module.publishes else None
    if not allowed:
        return []
    return [
        {"Sid": "Publish", "Effect": "Allow", **allowed},
        {
            "Sid": "PutClaimChecks",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": bucket_arn(names, f"{module.source}/*"),
        },
    ]


def own_queue(
    topology: Topology, module: Module, names: ResourceNames, actions: list[str]
) -> list[Statement]:
    """The module's own queue (`actions`: what its kind of consumer does with it), its own
    dead-letter queue, for what can never be handled, and the claim checks of the events it
    handles, from the sources it believes them from."""
    sources = sorted(
        {
            source
            for event_name in module.handled_event_names
            for source in topology.sources_of(module, event_name)
        }
    )
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
        {
            "Sid": "GetClaimChecks",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [bucket_arn(names, f"{source}/*") for source in sources],
        },
        # A GetObject of a missing key is answered NoSuchKey only to a caller allowed to
        # list the bucket (else AccessDenied, which is waited out as an outage). The listing
        # shows key names, sources and event ids, never data; a condition on s3:prefix would
        # not apply, since a GetObject carries no prefix.
        {
            "Sid": "ListClaimChecks",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn(names),
        },
    ]


def bucket_arn(names: ResourceNames, objects: str = "") -> dict[str, str]:
    """The claim-check bucket, or the objects under `objects` in it."""
    return {
        "Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{names.bucket_template()}"
        + (f"/{objects}" if objects else "")
    }


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
