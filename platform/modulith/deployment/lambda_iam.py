"""The IAM roles of a module's Lambda functions, each allowed only what its function does: write
its own log group, attach to the VPC, read the module's secrets, publish the module's events
(deliveries after commit run in every function), for the consume function, its own queue
and dead-letter queue, and for the functions that call other modules' query ports, their
internal routes."""

from typing import Any

from modulith.aws.names import ResourceNames
from modulith.deployment.iam import Statement, publishing
from modulith.modules import Module, Topology

# What Lambda itself needs to place a function in the VPC's subnets; no resource-level scope.
NETWORK_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
# What the consume function does with its own queue (`iam.own_queue`): the event source mapping
# reads it with the function's role; the consumer puts a failed message back with backoff, and
# sends a message again while a dependency is down.
CONSUMER_QUEUE_ACTIONS = [
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
    return statements + publishing(topology, module, names, transport)


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
