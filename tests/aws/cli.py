"""The real AWS CLI, as a producer outside the monolith runs it, against the emulator."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from modulith.aws.context import aws_context
from modulith.runtime import runtime
from tests.aws.emulator import AwsContext

AWS_CLI = Path(sys.executable).with_name("aws")


def aws_cli(aws: AwsContext, service: str, command: str, *arguments: str) -> dict[str, Any]:
    """`aws <service> <command> <arguments>` against the emulator (the CLI v1 needs the
    endpoint given explicitly); its JSON answer."""
    return dict(json.loads(_run(aws, service, command, *arguments)))


def s3_copy(aws: AwsContext, path: Path, url: str) -> None:
    """`aws s3 cp <path> <s3 url>`, which answers in words, not JSON."""
    _run(aws, "s3", "cp", str(path), url)


def _run(aws: AwsContext, service: str, command: str, *arguments: str) -> str:
    result = subprocess.run(
        [str(AWS_CLI), service, command, "--endpoint-url", aws.endpoint, *arguments],
        env={**aws.env, "PATH": str(AWS_CLI.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def put_events(aws: AwsContext, *entries: dict[str, Any]) -> list[str]:
    """`aws events put-events` onto the test's bus; the ids EventBridge gave the entries."""
    entries_json = json.dumps([{"EventBusName": aws.bus, **entry} for entry in entries])
    put = aws_cli(aws, "events", "put-events", "--entries", entries_json, "--output", "json")
    assert put["FailedEntryCount"] == 0, put
    return [str(entry["EventId"]) for entry in put["Entries"]]


def sns_publish(aws: AwsContext, module: str, data: dict[str, Any], **attributes: str) -> None:
    """`aws sns publish` of the data onto the module's topic, with these message attributes."""
    topic_arn = aws_context(runtime()).topics.arn(f"{aws.prefix}-{module}")
    published = aws_cli(
        aws,
        "sns",
        "publish",
        "--topic-arn",
        topic_arn,
        "--message",
        json.dumps(data),
        "--message-attributes",
        json.dumps(_string_attributes(attributes)),
        "--output",
        "json",
    )
    assert published["MessageId"]


def sqs_send(aws: AwsContext, module: str, data: dict[str, Any], **attributes: str) -> str:
    """`aws sqs send-message` of the data into the module's queue, with these message
    attributes; the message's id."""
    queue_url = aws.client("sqs").get_queue_url(QueueName=f"{aws.prefix}-{module}")["QueueUrl"]
    sent = aws_cli(
        aws,
        "sqs",
        "send-message",
        "--queue-url",
        queue_url,
        "--message-body",
        json.dumps(data),
        "--message-attributes",
        json.dumps(_string_attributes(attributes)),
        "--output",
        "json",
    )
    return str(sent["MessageId"])


def _string_attributes(attributes: dict[str, str]) -> dict[str, Any]:
    return {
        name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
    }
