"""One message of a module's queue, from its body to its outcome: handled (or a duplicate),
put back for a later receive, or dead-lettered with its reason. The long-polling consumer and
the Lambda function that consumes the queue both take every message through here."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.db import transaction
from django.db.models import F

from modulith.aws.claim_checks import ClaimChecks, ClaimCheckUnavailable
from modulith.aws.context import aws_context
from modulith.aws.messages import (
    DEAD_LETTER_REASON,
    DEAD_LETTER_SOURCE,
    DEAD_LETTERED_AT,
    EVENT_ID,
    HOLDS,
    MAX_HOLDS,
    Message,
    holds,
    message_envelope,
    message_group,
    string_attribute,
)
from modulith.aws.models import HandlingFailure
from modulith.aws.names import QueueDirectory, is_fifo
from modulith.bus.dispatch import Dispatcher
from modulith.modules import Module
from modulith.observability.logs import event_fields, log_context
from modulith.observability.metrics import MESSAGES_DEAD_LETTERED, MESSAGES_HANDLED
from modulith.outbox.retry import RetryPolicy
from modulith.runtime import Runtime
from modulith.transports.envelope import Envelope, MalformedEvent
from modulith.transports.transport import Outcome, Settled, Tally

log = logging.getLogger(__name__)

MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's ceiling
MAX_DELAY_SECONDS = 15 * 60  # SQS's ceiling on DelaySeconds
MAX_MESSAGE_ATTRIBUTES = 10


@dataclass
class ConsumerReport(Tally):
    COUNTED: ClassVar[dict[Settled, str]] = {
        Settled.HANDLED: "handled",
        Settled.DUPLICATE: "duplicates",
        Settled.RETRY: "retried",
        Settled.DEAD: "dead",
    }

    handled: int = 0
    duplicates: int = 0
    retried: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return (
            f"handled {self.handled}, duplicates {self.duplicates}, "
            f"retried {self.retried}, dead-lettered {self.dead}"
        )


class MessageProcessor:
    """Hands one message of a module's queue to the module's handlers (through the inbox, in
    the trace it carries) and settles it.

    A transient failure (an exception in a handler) is recorded (HandlingFailure) and hides the
    message for a backoff delay; after MODULITH_MAX_RECEIVES receives the queue's redrive
    policy moves it to the dead-letter queue. A permanent failure (not an event, too large or
    too deep, a malformed attribute, a source that is not the event's publisher nor a foreign
    producer the module declares, data that fails its schema, a type the module does not
    handle) goes to the dead-letter queue at once, with the reason as a message attribute,
    counted by kind in modulith_messages_dead_lettered. A dependency that is down is the outcome
    `unavailable`, and leaves the message untouched: the caller holds it. The outcome is the
    dispatcher's (`Dispatcher.deliver`); this only acts on it.

    `max_bytes`: the largest body it parses (MODULITH_MAX_EVENT_BYTES); a larger one is
    dead-lettered unread. The same bound holds for the data of an event that came by claim
    check, which `claims` resolves before anything reads it (`modulith.aws.claim_checks`): a
    reference that can never be resolved is dead-lettered with its reason, and S3 unreachable
    is a dependency that is down.

    `deletes`: whether it deletes the messages it is done with (handled, duplicates, dead-
    lettered). A Lambda event source mapping deletes them itself: those its function does not
    report as failed.
    """

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        module: Module,
        sqs: Any,
        queues: QueueDirectory,
        backoff: RetryPolicy,
        max_bytes: int,
        claims: ClaimChecks,
        deletes: bool = True,
    ) -> None:
        self.dispatcher = dispatcher
        self.module = module
        self.sqs = sqs
        self.queues = queues
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.claims = claims
        self.deletes = deletes

    def process(self, message: Message) -> Outcome:
        """Handles one message and settles it as its outcome says; one whose outcome is
        `unavailable` (something the handlers need is down) or `busy` (a handler of it runs
        as many deliveries as its concurrency allows here) is left untouched, for the caller to
        hold."""
        with log_context(module=self.module.name):
            outcome, envelope = self._deliver(message)
            if outcome.unavailable or outcome.busy:
                return outcome
            if outcome.ok:
                self._done(message)
            elif outcome.permanent:
                MESSAGES_DEAD_LETTERED.labels(self.module.name, outcome.reason).inc()
                self.dead_letter(message, outcome.error)
            else:
                self._retry_later(message, envelope, outcome)
        MESSAGES_HANDLED.labels(self.module.name, outcome.settled.value).inc()
        return outcome

    def _deliver(self, message: Message) -> tuple[Outcome, Envelope | None]:
        try:
            holds(message)  # a count sent again later must be sound before anything else
            envelope = message_envelope(message, max_bytes=self.max_bytes)
            envelope = self.claims.resolve(envelope, max_bytes=self.max_bytes)
        except MalformedEvent as malformed:
            return Outcome.dead(str(malformed), malformed.reason), None
        except ClaimCheckUnavailable as unavailable:
            return Outcome.unavailable_because(str(unavailable)), None
        return self.dispatcher.deliver(envelope, self.module), envelope

    def _refuse(self, message: Message, failure: MalformedEvent) -> None:
        MESSAGES_DEAD_LETTERED.labels(self.module.name, failure.reason).inc()
        self.dead_letter(message, str(failure))

    def dead_letter(self, message: Message, reason: str) -> None:
        """Moves the message to the dead-letter queue with its reason: sent before it is
        deleted, so a crash in between duplicates it rather than losing it."""
        log.error("%s dead-letters message %s: %s", self.module.name, message["MessageId"], reason)
        attributes = _kept_attributes(message, room_for=3)
        attributes |= {
            DEAD_LETTER_REASON: string_attribute(reason[:1000]),
            DEAD_LETTER_SOURCE: string_attribute(self.queues.names.queue(self.module.name)),
            DEAD_LETTERED_AT: string_attribute(datetime.now(UTC).isoformat()),
        }
        url = self.queues.dead_letter_url(self.module.name)
        fifo: dict[str, str] = {}
        if is_fifo(url):  # in its group, once however often this is repeated
            group = message_group(message) or message["MessageId"]
            fifo = {"MessageGroupId": group, "MessageDeduplicationId": message["MessageId"]}
        self.sqs.send_message(
            QueueUrl=url, MessageBody=message["Body"], MessageAttributes=attributes, **fifo
        )
        self._done(message)

    def send_again(self, message: Message, pause: RetryPolicy) -> None:
        """Holds a message while a dependency is down, for a consumer that cannot wait the
        outage out (a Lambda function): the message is sent again as a new one, delayed by
        the pause's backoff, so its receive count starts afresh and the outage uses up none of
        its receives. Sent before the original is deleted: a crash in between duplicates it,
        which the inbox absorbs. One whose holds count is unsound (it was held before it was
        processed) is dead-lettered instead, as processing would have."""
        try:
            held = min(holds(message) + 1, MAX_HOLDS)
        except MalformedEvent as malformed:
            self._refuse(message, malformed)
            return
        delay = pause.delay(held).total_seconds()
        attributes = _kept_attributes(message, room_for=2) | self._event_id_attribute(message)
        attributes[HOLDS] = _number(held)
        options: dict[str, Any] = {}
        if header := message.get("Attributes", {}).get("AWSTraceHeader"):
            options["MessageSystemAttributes"] = {"AWSTraceHeader": string_attribute(header)}
        self.sqs.send_message(
            QueueUrl=self.queues.url(self.module.name),
            MessageBody=message["Body"],
            MessageAttributes=attributes,
            DelaySeconds=min(MAX_DELAY_SECONDS, max(0, round(delay))),
            **options,
        )
        self._done(message)

    def _event_id_attribute(self, message: Message) -> dict[str, Any]:
        """The event's id as an attribute, for a copy of the message: a foreign message that
        names no id is known by its message id, which a copy, a new message, would not
        share."""
        try:
            envelope = message_envelope(message, max_bytes=self.max_bytes)
        except MalformedEvent:  # dead-lettered with its reason when it comes back
            return {}
        return {EVENT_ID: string_attribute(str(envelope.event_id))}

    def _retry_later(self, message: Message, envelope: Envelope | None, outcome: Outcome) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        fields = (
            event_fields(
                module=self.module.name,
                event_id=envelope.event_id,
                event_name=envelope.event_name,
                data=envelope.data,
                traceparent=envelope.traceparent,
            )
            if envelope
            else {}
        )
        log.warning(
            "%s failed on message %s (receive %d): %s",
            self.module.name,
            message["MessageId"],
            receives,
            outcome.error if outcome.cause is None else outcome.cause,
            extra=fields,
        )
        if envelope is not None:
            self._remember_failure(envelope, outcome.error)
        delay = self.backoff.delay(receives).total_seconds()
        self.sqs.change_message_visibility(
            QueueUrl=self.queues.url(self.module.name),
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=min(MAX_VISIBILITY_SECONDS, max(0, round(delay))),
        )

    def _remember_failure(self, envelope: Envelope, error: str) -> None:
        try:
            with transaction.atomic(using=self.module.database):
                failure, _ = HandlingFailure.objects.using(self.module.database).get_or_create(
                    event_id=envelope.event_id,
                    subscriber=self.module.name,
                    defaults={"event_name": envelope.event_name, "last_error": error},
                )
                HandlingFailure.objects.using(self.module.database).filter(pk=failure.pk).update(
                    attempts=F("attempts") + 1, last_error=error[:4000]
                )
        except Exception:  # the database may be what failed: the message is retried anyway
            log.exception("could not record the failure of %s", envelope.event_id)

    def set_visibility(self, messages: list[Message], seconds: int) -> None:
        """Hides the messages for `seconds` (0: gives them back at once)."""
        if not messages:
            return
        try:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queues.url(self.module.name),
                Entries=[
                    {
                        "Id": str(index),
                        "ReceiptHandle": message["ReceiptHandle"],
                        "VisibilityTimeout": min(MAX_VISIBILITY_SECONDS, seconds),
                    }
                    for index, message in enumerate(messages)
                ],
            )
        except Exception as error:  # SQS may be down too: at worst a message is handled twice
            log.warning("%s could not hold its messages: %s", self.module.name, error)

    def _done(self, message: Message) -> None:
        if self.deletes:
            self.sqs.delete_message(
                QueueUrl=self.queues.url(self.module.name), ReceiptHandle=message["ReceiptHandle"]
            )


def _kept_attributes(message: Message, *, room_for: int) -> dict[str, Any]:
    """The message's string attributes, leaving room for `room_for` more within SQS's 10."""
    kept = [
        (key, value)
        for key, value in message.get("MessageAttributes", {}).items()
        if value.get("DataType") == "String"
    ]
    return dict(kept[: MAX_MESSAGE_ATTRIBUTES - room_for])


def _number(value: int) -> dict[str, str]:
    return {"DataType": "Number", "StringValue": str(value)}


def message_processor(
    current: Runtime, module: Module, *, deletes: bool = True
) -> MessageProcessor:
    """What takes each message of a running module's queue through its handlers; `deletes`
    False for a Lambda event source mapping, which deletes the messages itself."""
    aws = aws_context(current)
    return MessageProcessor(
        dispatcher=current.dispatcher,
        module=module,
        sqs=aws.sqs,
        queues=aws.queues,
        backoff=current.relay.policy,
        max_bytes=current.max_event_bytes,
        claims=aws.claims,
        deletes=deletes,
    )
