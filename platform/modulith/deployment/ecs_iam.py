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

from typing import Any

from modulith.deployment.cfn import assumed_by, managed_policy
from modulith.deployment.iam import Statement

XRAY_POLICY = "AWSXRayDaemonWriteAccess"
EXECUTION_POLICY = "service-role/AmazonECSTaskExecutionRolePolicy"
# What the long-polling consumer does with its own queue (`iam.own_queue`): receive, delete what
# it handled, hide a failed message for its backoff.
CONSUMER_QUEUE_ACTIONS = [
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
