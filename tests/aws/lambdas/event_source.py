"""What Lambda's SQS event source mapping does for a function that reports partial batch
failures (ReportBatchItemFailures): it receives a batch from the queue, with every attribute,
invokes the function with the records, and deletes those the answer does not name. Here it
reads the emulator's real queue and calls the consume handler directly."""

from typing import Any

from modulith.aws.context import aws_context
from modulith.aws.lambdas import consume
from modulith.runtime import runtime
from modulith.testing import wait_until
from tests.lambda_events import context, sqs_event


class EventSource:
    def __init__(self, module: str = "orders") -> None:
        aws = aws_context(runtime())
        self.sqs = aws.sqs
        self.url = aws.queues.url(module)
        self.queue = aws.names.queue(module)

    def receive(self, expected: int = 1, timeout: float = 5) -> list[dict[str, Any]]:
        """A batch of at least `expected` messages (waiting, bounded), hidden meanwhile."""
        found: dict[str, dict[str, Any]] = {}

        def received() -> int:
            page = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            found.update((message["MessageId"], message) for message in page)
            return len(found)

        wait_until(
            received,
            lambda count: count >= expected,
            awaiting=f"{expected} message(s) on {self.queue}",
            timeout=timeout,
        )
        return list(found.values())

    def invoke(self, messages: list[dict[str, Any]], remaining: float = 25) -> dict[str, Any]:
        """The function's answer to a batch; the records it does not name are deleted."""
        answer = consume.handler(sqs_event(messages, self.queue), context(remaining))
        failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done)
                ],
            )
        return dict(answer)

    def poll(self, expected: int = 1) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        messages = self.receive(expected)
        return messages, self.invoke(messages)


def failures(answer: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]
