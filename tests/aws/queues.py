"""Reading what a queue of the emulator holds, as a test checks it."""

from typing import Any

from modulith.testing import wait_until

# A message received here stays hidden this long, so that none is counted twice.
HIDDEN_SECONDS = 60


def receive_all(
    sqs: Any, queue_url: str, expected: int, *, timeout: float = 5.0, delete: bool = False
) -> list[dict[str, Any]]:
    """Every message on the queue (with its attributes): waits, bounded, for `expected`, then
    receives once more, so that a message beyond them (a second copy of one, say) is among
    them too. Each is hidden for a minute, or deleted."""
    messages: list[dict[str, Any]] = []

    def receive(wait_seconds: int) -> int:
        page = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=HIDDEN_SECONDS,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in page:
            if delete:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(page)
        return len(messages)

    if expected:
        wait_until(
            lambda: receive(wait_seconds=1),
            lambda received: received >= expected,
            awaiting=f"{expected} message(s) on {queue_url}",
            timeout=timeout,
        )
    receive(wait_seconds=0)
    return messages
