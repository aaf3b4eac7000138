"""The IAM roles of a module service on ECS, computed from the manifests, each allowed only what
its tasks do.

- A task role per process kind: `web` publishes the module's events (its embedded relay
  delivers them) with the module's own source, to its own topic, or to its subscribers'
  queues; `consumer` also receives from the module's own queue and dead-letters into its own
  dead-letter queue. Both write traces through the collector sidecar
  (AWSXRayDaemonWriteAccess). The migration's task has no role: it touches no AWS service.
- An execution role per task definition (ECS pulls the image, writes the logs and reads the
  secrets with it): only the secrets that task's containers are given.
"""

from collections.abc import Callable
from typing import Any

from modulith.aws.names import ResourceNames
from modulith.deployment.alarms import routes_of
from modulith.deployment.cfn import arn, assumed_by, managed_policy
from modulith.modules import Module, Topology

Statement = dict[str, Any]

XRAY_POLICY = "AWSXRayDaemonWriteAccess"
EXECUTION_POLICY = "service-role/AmazonECSTaskExecutionRolePolicy"
# What the long-polling consumer does with its own queue: receive, delete what it handled,
# hide a failed message for its backoff.
OWN_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
]


def task_role(name: str, statements: list[Statement]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AssumeRolePolicyDocument": assumed_by("ecs-tasks.amazonaws.com", ecs=True),
        "ManagedPolicyArns": [managed_policy(XRAY_POLICY)],
    }
    if statements:
        properties["Policies"] = [
            {
                "PolicyName": name,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def execution_role(name: str, secrets: list[Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AssumeRolePolicyDocument": assumed_by("ecs-tasks.amazonaws.com", ecs=True),
        "ManagedPolicyArns": [managed_policy(EXECUTION_POLICY)],
    }
    if secrets:
        statement = {
            "Sid": "Secrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secrets,
        }
        properties["Policies"] = [
            {
                "PolicyName": name,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            }
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def publishing(
    topology: Topology, module: Module, names: ResourceNames, transport: str
) -> list[Statement]:
    return _PUBLISHING[transport](topology, module, names)


def consuming(module: Module, names: ResourceNames) -> list[Statement]:
    """The module's own queue, and its own dead-letter queue for what can never be handled."""
    return [
        {
            "Sid": "OwnQueue",
            "Effect": "Allow",
            "Action": OWN_QUEUE_ACTIONS,
            "Resource": queue(names.queue(module.name)),
        },
        {
            "Sid": "OwnDeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": queue(names.dead_letter_queue(module.name)),
        },
    ]


def queue(name: str) -> dict[str, str]:
    return arn("sqs", name)


def _to_bus(topology: Topology, module: Module, names: ResourceNames) -> list[Statement]:
    """PutEvents onto the bus, only with the module's own source: no task of one module can
    pass its events off as another's."""
    if not module.publishes:
        return []
    return [
        {
            "Sid": "PublishOwnEvents",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": arn("events", f"event-bus/{names.bus}"),
            "Condition": {"StringEquals": {"events:source": f"{module.name}.service"}},
        }
    ]


def _to_topic(topology: Topology, module: Module, names: ResourceNames) -> list[Statement]:
    """The module's own topic (the topic's ARN comes from STS GetCallerIdentity, which needs
    no permission)."""
    if not module.publishes:
        return []
    return [
        {
            "Sid": "PublishOwnEvents",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": arn("sns", names.topic(module.name)),
        }
    ]


def _to_queues(topology: Topology, module: Module, names: ResourceNames) -> list[Statement]:
    """The queues of the modules that subscribe to what this one publishes, and no other."""
    subscribers = routes_of(topology, module, "sqs", names)
    if not subscribers:
        return []
    return [
        {
            "Sid": "PublishOwnEvents",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": [queue(names.queue(name)) for name in subscribers],
        }
    ]


_PUBLISHING: dict[str, Callable[[Topology, Module, ResourceNames], list[Statement]]] = {
    "eventbridge": _to_bus,
    "sns": _to_topic,
    "sqs": _to_queues,
}
