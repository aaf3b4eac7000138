"""The records of an SQS event (what a Lambda event source mapping hands its function) as the
messages ReceiveMessage returns, so that both take one path through `MessageProcessor`."""

from typing import Any

from modulith.aws.messages import Message

Record = dict[str, Any]


def message_of(record: Record) -> Message:
    """{"messageId", "receiptHandle", "body", "attributes", "messageAttributes": {name:
    {"dataType", "stringValue"}}} as {"MessageId", "ReceiptHandle", "Body", "Attributes",
    "MessageAttributes": {name: {"DataType", "StringValue"}}}, so that `message_envelope`
    reads a record as it reads a received message: the system attributes the mapping passes
    (`SentTimestamp`; `AWSTraceHeader` when set) and the string attributes SNS's raw delivery
    keeps (`eventType`, `eventId`, `traceparent`). Binary attributes are left out: nothing
    reads them, and a dead-lettered message keeps only the string ones."""
    return {
        "MessageId": record["messageId"],
        "ReceiptHandle": record["receiptHandle"],
        "Body": record["body"],
        "Attributes": dict(record.get("attributes") or {}),
        "MessageAttributes": {
            name: {"DataType": value["dataType"], "StringValue": value["stringValue"]}
            for name, value in (record.get("messageAttributes") or {}).items()
            if value.get("stringValue") is not None
        },
    }


def queue_name(record: Record) -> str:
    """arn:aws:sqs:eu-west-1:123456789012:shop-orders -> shop-orders"""
    return str(record["eventSourceARN"]).rsplit(":", 1)[-1]
