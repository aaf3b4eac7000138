"""Dead letters on SQS: the messages in a module's dead-letter queue, and replaying them."""

from collections.abc import Callable, Iterator, Set
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from modulith.aws.context import AwsContext
from modulith.aws.messages import (
    DEAD_LETTER_REASON,
    DEAD_LETTER_SOURCE,
    DEAD_LETTERED_AT,
    EVENT_ID,
    EVENT_NAME,
    SQS_MAX_MESSAGE_BYTES,
    message_group,
)
from modulith.aws.models import HandlingFailure
from modulith.aws.names import is_fifo
from modulith.modules import Module
from modulith.outbox.dead_letters import DeadLetterEntry, Replayed
from modulith.transports.envelope import parse_json

# Long enough to list or replay a page of messages before they become visible again.
HOLD_SECONDS = 60
# The most messages of one dead-letter queue a listing shows, and a replay sends back.
LIST_LIMIT = 100
REPLAY_LIMIT = 1000
_DEAD_LETTER_ATTRIBUTES = {DEAD_LETTER_REASON, DEAD_LETTER_SOURCE, DEAD_LETTERED_AT}


@dataclass(frozen=True)
class DeadMessage(DeadLetterEntry):
    kind = "queue"
    message_id: str
    reason: str
    receives: int

    def __str__(self) -> str:
        return (
            f"{self.module} queue message {self.message_id} {self.event_name} "
            f"{self.event_id}: {self.reason}"
        )


class QueueDeadLetters:
    """The dead-letter queues of the module queues (a module that handles no event has none):
    listing leaves the messages where they are; a replay sends them back to the module's
    queue."""

    def __init__(self, aws: AwsContext) -> None:
        self.aws = aws  # its clients are made on first use

    def letters(self, module: Module) -> list[DeadLetterEntry]:
        if not module.handles:
            return []
        with self._held(module.name, LIST_LIMIT) as messages:
            return [self._describe(module, message) for message in messages]

    def replay(self, module: Module, ids: Set[str] | None = None) -> Replayed:
        """`ids` are message ids or event ids."""
        count = self._replay(module.name, ids) if module.handles else 0
        return Replayed(count=count, summary=f"{count} dead message(s) back on the queue")

    def _replay(self, module: str, ids: Set[str] | None) -> int:
        replayed = 0
        with self._held(module, REPLAY_LIMIT) as messages:
            for message in messages:
                if ids is not None and not ids & {message["MessageId"], _event_id(message)}:
                    continue
                url = self.aws.queues.url(module)
                fifo: dict[str, str] = {}
                if is_fifo(url):  # back in its group, once however often this is repeated
                    group = message_group(message) or message["MessageId"]
                    fifo = {"MessageGroupId": group, "MessageDeduplicationId": message["MessageId"]}
                self.aws.sqs.send_message(
                    QueueUrl=url,
                    MessageBody=message["Body"],
                    MessageAttributes={
                        key: value
                        for key, value in message.get("MessageAttributes", {}).items()
                        if key not in _DEAD_LETTER_ATTRIBUTES
                    },
                    **fifo,
                )
                self.aws.sqs.delete_message(
                    QueueUrl=self.aws.queues.dead_letter_url(module),
                    ReceiptHandle=message["ReceiptHandle"],
                )
                message["replayed"] = True
                replayed += 1
        return replayed

    @contextmanager
    def _held(self, module: str, limit: int) -> Iterator[list[dict[str, Any]]]:
        """Receives up to `limit` dead messages, hiding each while we work, and makes those
        that remain visible again afterwards."""
        url = self.aws.queues.dead_letter_url(module)
        messages: list[dict[str, Any]] = []
        try:
            while len(messages) < limit:
                page = self.aws.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, limit - len(messages)),
                    VisibilityTimeout=HOLD_SECONDS,
                    WaitTimeSeconds=0,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
                ).get("Messages", [])
                if not page:
                    break
                messages.extend(page)
            yield messages
        finally:
            _release(self.aws.sqs, url, [m for m in messages if not m.get("replayed")])

    def _describe(self, module: Module, message: dict[str, Any]) -> DeadMessage:
        attributes = message.get("MessageAttributes", {})
        reason = attributes.get(DEAD_LETTER_REASON, {}).get("StringValue")
        event_id = _event_id(message)
        if reason is None:
            reason = f"moved by the redrive policy after {self.aws.max_receives} receives"
            if last := _last_failure(module.database, module.name, event_id):
                reason += f"; last error: {last}"
        return DeadMessage(
            module=module.name,
            message_id=message["MessageId"],
            event_id=event_id,
            event_name=_event_name(message),
            reason=reason,
            receives=int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0")),
        )


def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages[start : start + 10])
            ],
        )


def _body_field(message: dict[str, Any], read: Callable[[dict[str, Any]], Any]) -> str:
    """A field of the body, or "?" for a body that is not an event (many are dead for that):
    parsed within the same bounds as a consumer parses it."""
    try:
        return str(read(parse_json(message["Body"], max_bytes=SQS_MAX_MESSAGE_BYTES)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "?"


def _event_id(message: dict[str, Any]) -> str:
    attribute = message.get("MessageAttributes", {}).get(EVENT_ID, {}).get("StringValue")
    return attribute or _body_field(
        message,
        lambda body: (body.get("detail", {}).get("metadata") or {}).get("eventId") or body["id"],
    )


def _event_name(message: dict[str, Any]) -> str:
    # A foreign message through SNS names its event only in this attribute.
    attribute = message.get("MessageAttributes", {}).get(EVENT_NAME, {}).get("StringValue")
    return attribute or _body_field(message, lambda body: body["detail-type"])


def _last_failure(database: str, module: str, event_id: str) -> str | None:
    try:
        UUID(event_id)
    except ValueError:
        return None
    failure = (
        HandlingFailure.objects.using(database)
        .filter(event_id=event_id, subscriber=module)
        .values_list("last_error", flat=True)
        .first()
    )
    return failure if failure is not None else None
