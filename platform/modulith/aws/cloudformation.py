"""The topology's AWS resources as a CloudFormation template (the same resources `provision`
creates)."""

from typing import Any

from modulith.aws.resources import (
    DEAD_LETTER_RETENTION_SECONDS,
    RULE_TARGET_ID,
    AwsTopology,
    QueueSpec,
    RuleSpec,
    queue_policy,
)

BUS = "EventBus"


def template(resources: AwsTopology) -> dict[str, Any]:
    body: dict[str, Any] = {
        BUS: {"Type": "AWS::Events::EventBus", "Properties": {"Name": resources.bus}}
    }
    for queue in resources.queues:
        body.update(_queue(queue))
    for rule in resources.rules:
        body.update(_rule(rule))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Event bus, module queues, dead-letter queues and routing rules",
        "Resources": body,
        "Outputs": {
            f"{_logical(queue.module)}QueueUrl": {
                "Value": {"Ref": f"{_logical(queue.module)}Queue"}
            }
            for queue in resources.queues
        },
    }


def _queue(spec: QueueSpec) -> dict[str, Any]:
    name = _logical(spec.module)
    return {
        f"{name}DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": spec.dead_letter_name,
                "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
            },
        },
        f"{name}Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": spec.name,
                "VisibilityTimeout": spec.visibility_timeout,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [f"{name}DeadLetterQueue", "Arn"]},
                    "maxReceiveCount": spec.max_receives,
                },
            },
        },
    }


def _rule(spec: RuleSpec) -> dict[str, Any]:
    name = _logical(spec.module)
    return {
        f"{name}Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": spec.name,
                "EventBusName": {"Ref": BUS},
                "EventPattern": spec.event_pattern(),
                "State": "ENABLED",
                "Targets": [{"Id": RULE_TARGET_ID, "Arn": {"Fn::GetAtt": [f"{name}Queue", "Arn"]}}],
            },
        },
        f"{name}QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": f"{name}Queue"}],
                "PolicyDocument": queue_policy(
                    {"Fn::GetAtt": [f"{name}Queue", "Arn"]}, {"Fn::GetAtt": [f"{name}Rule", "Arn"]}
                ),
            },
        },
    }


def _logical(module: str) -> str:
    return "".join(part.capitalize() for part in module.replace("-", "_").split("_"))
