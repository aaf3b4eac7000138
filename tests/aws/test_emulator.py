"""The AWS test fixtures do what they say: the emulator is reached through AWS_ENDPOINT_URL
alone, EventBridge delivers to SQS, and the fault proxy injects exactly the faults armed."""

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from tests.aws.emulator import AwsContext, Emulator, aws_environment
from tests.aws.fault_proxy import FaultProxy
from tests.aws.queues import receive_all

# botocore's Config(retries={"max_attempts": N}) means N *retries* (N + 1 attempts);
# total_max_attempts counts the first attempt too.
NO_RETRIES: dict[str, Any] = {"retries": {"total_max_attempts": 1, "mode": "standard"}}
SEND_BATCH = "AmazonSQS.SendMessageBatch"
PUT_EVENTS = "AWSEvents.PutEvents"


def bodies(sqs: Any, queue_url: str, expected: int) -> list[str]:
    """The bodies of the messages on the queue, deleting them: waits (bounded) for `expected`,
    then makes sure no more are there."""
    return [m["Body"] for m in receive_all(sqs, queue_url, expected, delete=True)]


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def bus_to_queue(aws: AwsContext, detail_type: str) -> str:
    """A bus, a rule on it matching `detail_type`, and a queue the rule targets."""
    sqs, events = aws.client("sqs"), aws.client("events")
    queue_url = sqs.create_queue(QueueName=f"{aws.prefix}-events")["QueueUrl"]
    events.create_event_bus(Name=aws.bus)
    pattern = json.dumps({"detail-type": [detail_type]})
    events.put_rule(Name=f"{aws.prefix}-rule", EventBusName=aws.bus, EventPattern=pattern)
    events.put_targets(
        Rule=f"{aws.prefix}-rule",
        EventBusName=aws.bus,
        Targets=[{"Id": "queue", "Arn": queue_arn(sqs, queue_url)}],
    )
    return str(queue_url)


def event(aws: AwsContext, number: int) -> dict[str, str]:
    return {
        "EventBusName": aws.bus,
        "Source": "tests.fixtures",
        "DetailType": "FixtureChecked",
        "Detail": json.dumps({"number": number}),
    }


def test_boto3_reaches_the_emulator_through_aws_endpoint_url_alone(aws: AwsContext) -> None:
    sqs = boto3.client("sqs")
    assert sqs.meta.endpoint_url == aws.emulator.endpoint == aws.endpoint
    queue_url = sqs.create_queue(QueueName=f"{aws.prefix}-plain")["QueueUrl"]

    entries: list[Any] = [{"Id": str(i), "MessageBody": f"message {i}"} for i in range(10)]
    response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)

    assert len(response["Successful"]) == 10
    assert not response.get("Failed")
    assert sorted(bodies(sqs, queue_url, 10)) == sorted(e["MessageBody"] for e in entries)


def test_an_eventbridge_rule_delivers_the_event_envelope_to_its_queue(aws: AwsContext) -> None:
    queue_url = bus_to_queue(aws, "FixtureChecked")
    events = aws.client("events")

    response = events.put_events(
        Entries=[event(aws, 1), {**event(aws, 2), "DetailType": "SomethingElse"}]
    )

    assert response["FailedEntryCount"] == 0
    [body] = bodies(aws.client("sqs"), queue_url, 1)
    envelope = json.loads(body)
    assert envelope["id"] == response["Entries"][0]["EventId"]
    assert envelope["detail-type"] == "FixtureChecked"
    assert envelope["source"] == "tests.fixtures"
    assert envelope["detail"] == {"number": 1}
    assert {"version", "time", "region", "resources"} <= set(envelope)


def test_failed_send_batch_entries_come_back_failed_and_never_reach_the_queue(
    aws: AwsContext, fault_proxy: FaultProxy
) -> None:
    sqs = aws.client("sqs")
    assert sqs.meta.endpoint_url == fault_proxy.endpoint
    queue_url = sqs.create_queue(QueueName=f"{aws.prefix}-partial")["QueueUrl"]
    entries = [{"Id": f"e{i}", "MessageBody": f"message {i}"} for i in range(10)]

    fault_proxy.fail_batch_entries(SEND_BATCH, indexes={1, 4, 7})
    first = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    fault_proxy.fail_batch_entries("SendMessageBatch", every=2)
    second = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    third = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)  # disarmed by now

    assert first["Failed"] == [
        {"Id": f"e{i}", "SenderFault": False, "Code": "InternalError", "Message": "injected"}
        for i in (1, 4, 7)
    ]
    assert [e["Id"] for e in first["Successful"]] == [f"e{i}" for i in (0, 2, 3, 5, 6, 8, 9)]
    assert [e["Id"] for e in second["Failed"]] == ["e1", "e3", "e5", "e7", "e9"]
    assert len(third["Successful"]) == 10
    assert not third.get("Failed")
    received = bodies(sqs, queue_url, 7 + 5 + 10)
    assert sorted(received) == sorted(
        [f"message {i}" for i in (0, 2, 3, 5, 6, 8, 9)]
        + [f"message {i}" for i in (0, 2, 4, 6, 8)]
        + [f"message {i}" for i in range(10)]
    )
    assert fault_proxy.faulted[SEND_BATCH] == 2
    assert fault_proxy.forwarded[SEND_BATCH] == 3


def test_failed_put_events_entries_come_back_failed_and_never_reach_the_target(
    aws: AwsContext, fault_proxy: FaultProxy
) -> None:
    queue_url = bus_to_queue(aws, "FixtureChecked")
    fault_proxy.fail_batch_entries(PUT_EVENTS, indexes={0, 2})

    response = aws.client("events").put_events(Entries=[event(aws, n) for n in range(4)])

    assert response["FailedEntryCount"] == 2
    failed = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
    assert [response["Entries"][n] for n in (0, 2)] == [failed, failed]
    assert all("EventId" in response["Entries"][n] for n in (1, 3))
    received = bodies(aws.client("sqs"), queue_url, 2)
    assert sorted(json.loads(body)["detail"]["number"] for body in received) == [1, 3]


def test_an_injected_throttle_is_a_throttling_error_to_botocore(
    aws: AwsContext, fault_proxy: FaultProxy
) -> None:
    queue_url = aws.client("sqs").create_queue(QueueName=f"{aws.prefix}-throttled")["QueueUrl"]
    fault_proxy.throttle("AmazonSQS.SendMessage", times=1)

    with pytest.raises(ClientError) as raised:
        aws.client("sqs", **NO_RETRIES).send_message(QueueUrl=queue_url, MessageBody="first")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    context = RetryContext(attempt_number=1, parsed_response=raised.value.response)
    assert ThrottledRetryableChecker().is_retryable(context), raised.value.response["Error"]

    fault_proxy.throttle("AmazonSQS.SendMessage", times=2)
    patient = aws.client("sqs", retries={"total_max_attempts": 3, "mode": "standard"})
    response = patient.send_message(QueueUrl=queue_url, MessageBody="second")

    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert fault_proxy.faulted["AmazonSQS.SendMessage"] == 3
    assert fault_proxy.forwarded["AmazonSQS.SendMessage"] == 1
    assert bodies(aws.client("sqs"), queue_url, 1) == ["second"]


def test_a_dropped_connection_is_a_connection_error_to_botocore(
    aws: AwsContext, fault_proxy: FaultProxy
) -> None:
    events = aws.client("events", **NO_RETRIES)
    events.create_event_bus(Name=aws.bus)
    fault_proxy.drop_connections(PUT_EVENTS, times=1)

    with pytest.raises(ConnectionClosedError):
        events.put_events(Entries=[event(aws, 1)])

    assert events.put_events(Entries=[event(aws, 2)])["FailedEntryCount"] == 0
    assert fault_proxy.faulted[PUT_EVENTS] == 1
    assert fault_proxy.forwarded[PUT_EVENTS] == 1


def test_a_stopped_emulator_refuses_connections_and_restarts_empty(
    private_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in aws_environment(private_emulator.endpoint).items():
        monkeypatch.setenv(variable, value)
    sqs = boto3.client("sqs", config=Config(connect_timeout=1, **NO_RETRIES))
    sqs.create_queue(QueueName="before-the-restart")
    port = private_emulator.port

    private_emulator.stop()
    with pytest.raises(EndpointConnectionError):
        sqs.list_queues()

    private_emulator.restart()
    assert private_emulator.port == port
    assert sqs.list_queues().get("QueueUrls", []) == []

    sqs.create_queue(QueueName="after-the-restart")
    private_emulator.reset()
    assert sqs.list_queues().get("QueueUrls", []) == []
