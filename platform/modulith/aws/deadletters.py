"""Dead letters on SQS: the messages in a module's dead-letter queue, and replaying them."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from modulith.aws.names import QueueDirectory
from modulith.outbox.models import HandlingFailure
from modulith.transports.consumer import DEAD_LETTER_REASON, DEAD_LETTER_SOURCE, DEAD_LETTERED_AT

# Long enough to list or replay a page of messages before they become visible again.
HOLD_SECONDS = 60
_DEAD_LETTER_ATTRIBUTES = {DEAD_LETTER_REASON, DEAD_LETTER_SOURCE, DEAD_LETTERED_AT}


@dataclass(frozen=True)
class DeadMessage:
    module: str
    message_id: str
    event_id: str
    event_name: str
    reason: str
    receives: int


class QueueDeadLetters:
    """Reads and replays the dead-letter queues of module queues."""

    def __init__(self, sqs: Any, queues: QueueDirectory, max_receives: int) -> None:
        self.sqs = sqs
        self.queues = queues
        self.max_receives = max_receives

    def peek(self, module: str, *, database: str | None, limit: int = 100) -> list[DeadMessage]:
        with self._held(module, limit) as messages:
            return [self._describe(module, database, message) for message in messages]

    def replay(self, module: str, ids: set[str] | None = None, limit: int = 1000) -> int:
        """Sends dead messages (all, or those whose message or event id is given) back to the
        module's queue; the subscriber's inbox absorbs any that were in fact handled."""
        replayed = 0
        with self._held(module, limit) as messages:
            for message in messages:
                if ids is not None and not ids & {message["MessageId"], _event_id(message)}:
                    continue
                self.sqs.send_message(
                    QueueUrl=self.queues.url(module),
                    MessageBody=message["Body"],
                    MessageAttributes={
                        key: value
                        for key, value in message.get("MessageAttributes", {}).items()
                        if key not in _DEAD_LETTER_ATTRIBUTES
                    },
                )
                self.sqs.delete_message(
                    QueueUrl=self.queues.dead_letter_url(module),
                    ReceiptHandle=message["ReceiptHandle"],
                )
                message["replayed"] = True
                replayed += 1
        return replayed

    @contextmanager
    def _held(self, module: str, limit: int) -> Iterator[list[dict[str, Any]]]:
        """Receives up to `limit` dead messages, hiding each while we work, and makes those
        that remain visible again afterwards."""
        url = self.queues.dead_letter_url(module)
        messages: list[dict[str, Any]] = []
        try:
            while len(messages) < limit:
                page = self.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=min(10, limit - len(messages)),
                    VisibilityTimeout=HOLD_SECONDS,
                    WaitTimeSeconds=0,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                ).get("Messages", [])
                if not page:
                    break
                messages.extend(page)
            yield messages
        finally:
            _release(self.sqs, url, [m for m in messages if not m.get("replayed")])

    def _describe(self, module: str, database: str | None, message: dict[str, Any]) -> DeadMessage:
        attributes = message.get("MessageAttributes", {})
        reason = attributes.get(DEAD_LETTER_REASON, {}).get("StringValue")
        event_id = _event_id(message)
        if reason is None:
            reason = f"moved by the redrive policy after {self.max_receives} receives"
            if database and (last := _last_failure(database, module, event_id)):
                reason += f"; last error: {last}"
        return DeadMessage(
            module=module,
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
    try:
        return str(read(json.loads(message["Body"])))
    except (ValueError, KeyError, TypeError):
        return "?"


def _event_id(message: dict[str, Any]) -> str:
    attribute = message.get("MessageAttributes", {}).get("eventId", {}).get("StringValue")
    return attribute or _body_field(
        message,
        lambda body: (body.get("detail", {}).get("metadata") or {}).get("eventId") or body["id"],
    )


def _event_name(message: dict[str, Any]) -> str:
    return _body_field(message, lambda body: body["detail-type"])


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
