"""The IAM roles of a module's Lambda functions, each allowed only what its function does: write
its own log group, attach to the VPC, read the module's secrets, publish the module's events
(deliveries after commit run in every function), for the consume function, its own queue
and dead-letter queue, and for the functions that call other modules' query ports, their
internal routes."""

from collections.abc import Callable
from typing import Any

from modulith.aws.names import ResourceNames
from modulith.modules import Module, Topology

Statement = dict[str, Any]

# What Lambda itself needs to place a function in the VPC's subnets; no resource-level scope.
NETWORK_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
# The event source mapping reads the queue with the function's role; the consumer puts a
# failed message back with backoff, and sends a message again while a dependency is down.
QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:SendMessage",
]


def role(logical: str, statements: list[Statement]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": logical,
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        },
    }


def function_statements(
    topology: Topology,
    module: Module,
    names: ResourceNames,
    *,
    transport: str,
    log_group: str,
    secrets: list[Any],
) -> list[Statement]:
    """What every function of the module does: logs, VPC, secrets, publishing."""
    statements: list[Statement] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
        },
        {"Sid": "Network", "Effect": "Allow", "Action": NETWORK_ACTIONS, "Resource": "*"},
        {
            "Sid": "Secrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secrets,
        },
    ]
    return statements + PUBLISHING[transport](topology, module, names)


def queue_statements(module: Module, names: ResourceNames) -> list[Statement]:
    """The consume function's own queue, and its dead-letter queue for what can never be
    handled."""
    return [
        {
            "Sid": "OwnQueue",
            "Effect": "Allow",
            "Action": QUEUE_ACTIONS,
            "Resource": queue_arn(names.queue(module.name)),
        },
        {
            "Sid": "OwnDeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": queue_arn(names.dead_letter_queue(module.name)),
        },
    ]


def internal_call_statements(apis: dict[str, Any]) -> list[Statement]:
    """Invoking exactly the internal routes of the providers whose ports the module uses, on
    the HTTP API that routes each (`apis`: provider -> its API id): API Gateway authorises
    those routes with IAM, so no other caller reaches them."""
    if not apis:
        return []
    return [
        {
            "Sid": "InternalCalls",
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": [
                {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                        f"${{Api}}/*/POST/internal/{provider}/*",
                        {"Api": api},
                    ]
                }
                for provider, api in sorted(apis.items())
            ],
        }
    ]


def queue_arn(name: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name}"}


def _to_bus(topology: Topology, module: Module, names: ResourceNames) -> list[Statement]:
    """The bus, for the module's own events only: each entry must carry the module's source
    and one of its detail-types (EventBridge checks every entry of a PutEvents call)."""
    if not module.publishes:
        return []
    return [
        {
            "Sid": "Publish",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
                f"event-bus/{names.bus}"
            },
            "Condition": {
                "StringEquals": {
                    "events:source": module.source,
                    "events:detail-type": sorted(e.event_name for e in module.publishes),
                }
            },
        }
    ]


def _to_queues(topology: Topology, module: Module, names: ResourceNames) -> list[Statement]:
    """The queues of the modules that subscribe to what this one publishes."""
    subscribers = sorted(
        {
            subscriber.name
            for event in module.publishes
            for subscriber in topology.subscribers_of(event.event_name)
        }
    )
    if not subscribers:
        return []
    return [
        {
            "Sid": "Publish",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": [queue_arn(names.queue(name)) for name in subscribers],
        }
    ]


def _to_topic(topology: Topology, module: Module, names: ResourceNames) -> list[Statement]:
    """The module's own topic (PublishBatch is allowed by sns:Publish; the topic's ARN comes
    from STS GetCallerIdentity, which needs no permission)."""
    if not module.publishes:
        return []
    return [
        {
            "Sid": "Publish",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"
                f"{names.topic(module.name)}"
            },
        }
    ]


# How each queue transport publishes, and so what a function must be allowed for it.
PUBLISHING: dict[str, Callable[[Topology, Module, ResourceNames], list[Statement]]] = {
    "eventbridge": _to_bus,
    "sns": _to_topic,
    "sqs": _to_queues,
}
