"""The topology's AWS resources as a CloudFormation template (the same resources `provision`
creates)."""

from typing import Any

from modulith.aws.bucket_provisioning import ENCRYPTION, PUBLIC_ACCESS_BLOCKED
from modulith.aws.resources import (
    CLAIM_CHECK_EXPIRY_RULE,
    DEAD_LETTER_RETENTION_SECONDS,
    AwsTopology,
    BucketSpec,
    QueueSpec,
    RuleSpec,
    SubscriptionSpec,
    TopicSpec,
    bucket_policy,
    dead_letter_queue_policy,
    queue_policy,
    topic_policy,
)

BUS = "EventBus"
BUCKET = "ClaimCheckBucket"


def template(resources: AwsTopology) -> dict[str, Any]:
    body: dict[str, Any] = {
        BUS: {"Type": "AWS::Events::EventBus", "Properties": {"Name": resources.bus}}
    }
    for queue in resources.queues:
        body.update(_queue(queue))
    for rule in resources.rules:
        body.update(_rule(rule, resources.subscriptions_of(rule.module)))
    for topic in resources.topics:
        body.update(_topic(topic))
    for subscription in resources.subscriptions:
        body.update(_subscription(subscription))
    body.update(_bucket(resources.bucket))
    outputs = {
        "ClaimCheckBucketName": {"Value": {"Ref": BUCKET}},
    }
    outputs |= {
        f"{_logical(queue.module)}QueueUrl": {"Value": {"Ref": f"{_logical(queue.module)}Queue"}}
        for queue in resources.queues
    }
    outputs |= {
        f"{_logical(topic.module)}TopicArn": {"Value": {"Ref": f"{_logical(topic.module)}Topic"}}
        for topic in resources.topics
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Event bus, module queues, dead-letter queues and routing rules"
        + (", topics and their subscriptions" if resources.topics else "")
        + ", and the claim-check bucket of large events",
        "Resources": body,
        "Outputs": outputs,
    }


def _queue(spec: QueueSpec) -> dict[str, Any]:
    name = _logical(spec.module)
    return {
        f"{name}DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": spec.dead_letter_name,
                "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
                **_typed(spec.attributes()),
            },
        },
        f"{name}DeadLetterQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": f"{name}DeadLetterQueue"}],
                "PolicyDocument": dead_letter_queue_policy(
                    {"Fn::GetAtt": [f"{name}DeadLetterQueue", "Arn"]}
                ),
            },
        },
        f"{name}Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": spec.name,
                "VisibilityTimeout": spec.visibility_timeout,
                **_typed(spec.attributes()),
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [f"{name}DeadLetterQueue", "Arn"]},
                    "maxReceiveCount": spec.max_receives,
                },
            },
        },
    }


def _rule(spec: RuleSpec, subscriptions: tuple[SubscriptionSpec, ...]) -> dict[str, Any]:
    name = _logical(spec.module)
    topics = [{"Ref": f"{_logical(s.publisher)}Topic"} for s in subscriptions]
    return {
        f"{name}Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": spec.name,
                "EventBusName": {"Ref": BUS},
                "EventPattern": spec.event_pattern(),
                "State": "ENABLED",
                "Targets": [spec.target({"Fn::GetAtt": [f"{name}Queue", "Arn"]})],
            },
        },
        # One policy a queue: its rule's and its topics' statements together.
        f"{name}QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": f"{name}Queue"}],
                "PolicyDocument": queue_policy(
                    {"Fn::GetAtt": [f"{name}Queue", "Arn"]},
                    {"Fn::GetAtt": [f"{name}Rule", "Arn"]},
                    topics,
                ),
            },
        },
    }


def _topic(spec: TopicSpec) -> dict[str, Any]:
    name = _logical(spec.module)
    return {
        f"{name}Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": spec.name, **_typed(spec.attributes())},
        },
        f"{name}TopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [{"Ref": f"{name}Topic"}],
                "PolicyDocument": topic_policy({"Ref": f"{name}Topic"}, {"Ref": "AWS::AccountId"}),
            },
        },
    }


def _subscription(spec: SubscriptionSpec) -> dict[str, Any]:
    subscriber, publisher = _logical(spec.module), _logical(spec.publisher)
    return {
        f"{subscriber}From{publisher}Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": f"{publisher}Topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": [f"{subscriber}Queue", "Arn"]},
                "RawMessageDelivery": True,
                "FilterPolicy": spec.filter_policy(),
            },
        }
    }


def _typed(attributes: dict[str, str]) -> dict[str, Any]:
    """Attributes as the API takes them (text) made template properties: booleans stay text
    where CloudFormation takes an enumeration."""
    return {
        key: {"true": True, "false": False}.get(value, value) for key, value in attributes.items()
    }


def _bucket(spec: BucketSpec) -> dict[str, Any]:
    """The same settings `provision` gives the bucket (`modulith.aws.bucket_provisioning`)."""
    [encryption] = ENCRYPTION["Rules"]
    return {
        BUCKET: {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": {"Fn::Sub": spec.name},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": encryption[
                                "ApplyServerSideEncryptionByDefault"
                            ]
                        }
                    ]
                },
                "PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCKED,
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": CLAIM_CHECK_EXPIRY_RULE,
                            "Status": "Enabled",
                            "ExpirationInDays": spec.expiry_days,
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        }
                    ]
                },
            },
        },
        f"{BUCKET}Policy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": BUCKET},
                "PolicyDocument": bucket_policy({"Fn::GetAtt": [BUCKET, "Arn"]}),
            },
        },
    }


def _logical(module: str) -> str:
    return "".join(part.capitalize() for part in module.replace("-", "_").split("_"))
