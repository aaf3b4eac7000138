"""Consuming a module's queue: one wire format, the same inbox and handlers as in-process
delivery, and a dead-letter queue for what can never be handled."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import close_old_connections, transaction
from django.db.models import F

from modulith.aws.messages import message_envelope
from modulith.aws.models import HandlingFailure
from modulith.aws.names import QueueDirectory
from modulith.bus.dispatch import DependencyUnavailable, Dispatcher, PermanentFailure
from modulith.bus.envelope import Envelope, MalformedEvent
from modulith.modules import Module
from modulith.observability.logs import event_fields, log_context
from modulith.observability.metrics import CONSUMER_PAUSED, MESSAGES_HANDLED
from modulith.outbox.retry import RetryPolicy

log = logging.getLogger(__name__)

DEAD_LETTER_REASON = "deadLetterReason"
DEAD_LETTER_SOURCE = "deadLetterSourceQueue"
DEAD_LETTERED_AT = "deadLetteredAt"
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's ceiling
MAX_MESSAGE_ATTRIBUTES = 10
# While a consumer is paused, the messages it holds stay hidden this much past the next probe.
HOLD_MARGIN_SECONDS = 30


@dataclass
class ConsumerReport:
    handled: int = 0
    duplicates: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def messages(self) -> int:
        return self.handled + self.duplicates + self.retried + self.dead

    @property
    def outcome(self) -> str:
        """What became of a single message."""
        return next(
            name
            for name, count in (
                ("handled", self.handled),
                ("duplicate", self.duplicates),
                ("retried", self.retried),
                ("dead", self.dead),
            )
            if count
        )

    def add(self, other: "ConsumerReport") -> None:
        self.handled += other.handled
        self.duplicates += other.duplicates
        self.retried += other.retried
        self.dead += other.dead

    def __str__(self) -> str:
        return (
            f"handled {self.handled}, duplicates {self.duplicates}, "
            f"retried {self.retried}, dead-lettered {self.dead}"
        )


class QueueConsumer:
    """Long-polls one module's queue and hands each event to the module's handlers.

    Success deletes the message. A transient failure (an exception in a handler) hides the
    message for a backoff delay; after MODULITH_MAX_RECEIVES receives the queue's redrive
    policy moves it to the dead-letter queue. A permanent failure (not an event, data that
    fails its schema, a type the module does not handle) goes to the dead-letter queue at
    once, with the reason as a message attribute.

    A dependency that is down (the module's database, a provider it calls) is not the
    message's fault: the consumer pauses the queue, holds the messages it has (kept hidden,
    so their receive count does not grow), and probes with the first of them after a capped
    backoff, until the dependency answers. An outage of any length delays messages; it never
    dead-letters them.
    """

    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        module: Module,
        sqs: Any,
        queues: QueueDirectory,
        backoff: RetryPolicy,
        pause: RetryPolicy,
        wait_seconds: int,
    ) -> None:
        self.dispatcher = dispatcher
        self.module = module
        self.sqs = sqs
        self.queues = queues
        self.backoff = backoff
        self.pause = pause
        self.wait_seconds = wait_seconds
        # Set while messages are in hand: a stopping process waits for this, not for a poll.
        self.busy = threading.Event()

    def run(
        self,
        stop: threading.Event,
        on_report: Callable[[ConsumerReport], None],
        *,
        once: bool = False,
    ) -> None:
        """Polls until `stop` is set. A failed poll (the queue or the network is down) is
        logged and tried again with backoff: a consumer outlives the outages it waits out."""
        failures = 0
        while not stop.is_set():
            try:
                messages = self.receive()
            except Exception:
                failures += 1
                # The queue is down: probed as often as a route or a dependency that is.
                delay = self.pause.delay(failures).total_seconds()
                log.exception(
                    "%s: polling failed (%d in a row); next try in %.1f s",
                    self.module.name,
                    failures,
                    delay,
                )
                if once:
                    return
                stop.wait(delay)
                continue
            failures = 0
            # Busy until the messages in hand are handled and counted: a stopping process
            # waits for that, not for a long poll.
            self.busy.set()
            try:
                on_report(self.handle(messages, stop))
            finally:
                self.busy.clear()
            if once:
                return

    def poll(self, max_messages: int = 10, stop: threading.Event | None = None) -> ConsumerReport:
        """One receive, and the handling of what it brought."""
        return self.handle(self.receive(max_messages), stop or threading.Event())

    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queues.url(self.module.name),
            MaxNumberOfMessages=max(1, min(max_messages, 10)),
            WaitTimeSeconds=self.wait_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=[
                "ApproximateReceiveCount",
                "AWSTraceHeader",
                "SentTimestamp",  # the time of a foreign message, which carries only data
            ],
        )
        return list(response.get("Messages", []))

    def handle(self, messages: list[dict[str, Any]], stop: threading.Event) -> ConsumerReport:
        report = ConsumerReport()
        try:
            held, reason = self._handle_in_order(messages, report, stop)
            if held and reason:
                held = self._wait_out(held, reason, report, stop)
            if held:  # stopping: whoever consumes next gets them at once
                self._set_visibility(held, 0)
        finally:
            close_old_connections()
        return report

    def _handle_in_order(
        self, messages: list[dict[str, Any]], report: ConsumerReport, stop: threading.Event
    ) -> tuple[list[dict[str, Any]], str]:
        """Handles the messages in turn until one finds a dependency down, or the consumer is
        told to stop; returns the messages not handled (and why, for a dependency)."""
        for index, message in enumerate(messages):
            if stop.is_set():  # the message in hand is finished; the rest are given back
                return messages[index:], ""
            try:
                report.add(self.process(message))
            except DependencyUnavailable as unavailable:
                return messages[index:], str(unavailable)
            except Exception:  # e.g. SQS refused a delete: the others still get handled
                log.exception(
                    "%s could not finish message %s; it comes back after its visibility timeout",
                    self.module.name,
                    message["MessageId"],
                )
        return [], ""

    def _wait_out(
        self,
        held: list[dict[str, Any]],
        reason: str,
        report: ConsumerReport,
        stop: threading.Event,
    ) -> list[dict[str, Any]]:
        """Pauses the queue while a dependency is down: the held messages stay hidden, and the
        first of them probes after each backoff. Returns once all are handled, or on stop with
        those still held."""
        CONSUMER_PAUSED.labels(self.module.name).set(1)
        log.error(
            "%s paused its queue: a dependency is unavailable (%s); %d message(s) held until "
            "it answers",
            self.module.name,
            reason,
            len(held),
        )
        started = time.monotonic()
        probes = 0
        try:
            while held:
                probes += 1
                delay = self.pause.delay(probes).total_seconds()
                self._set_visibility(held, round(delay) + HOLD_MARGIN_SECONDS)
                if stop.wait(delay):
                    return held
                before = len(held)
                held, reason = self._handle_in_order(held, report, stop)
                if held and not reason:  # told to stop between two messages
                    return held
                if len(held) < before:
                    probes = 0  # it answers again; a new outage starts its backoff afresh
        finally:
            CONSUMER_PAUSED.labels(self.module.name).set(0)
        log.warning(
            "%s resumed its queue after %.1f s paused",
            self.module.name,
            time.monotonic() - started,
        )
        return []

    def _set_visibility(self, messages: list[dict[str, Any]], seconds: int) -> None:
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

    def process(self, message: dict[str, Any]) -> ConsumerReport:
        """Handles one message; raises DependencyUnavailable (the message untouched) when
        something the handlers need is down."""
        with log_context(module=self.module.name):
            report = self._process(message)
        MESSAGES_HANDLED.labels(self.module.name, report.outcome).inc()
        return report

    def _process(self, message: dict[str, Any]) -> ConsumerReport:
        envelope: Envelope | None = None
        try:
            envelope = message_envelope(message)
            first_time = self.dispatcher.handle(envelope, self.module)
        except (MalformedEvent, PermanentFailure) as failure:
            self.dead_letter(message, str(failure))
            return ConsumerReport(dead=1)
        except DependencyUnavailable:
            raise
        except Exception as error:
            self._retry_later(message, envelope, error)
            return ConsumerReport(retried=1)
        self._delete(message)
        return ConsumerReport(handled=1) if first_time else ConsumerReport(duplicates=1)

    def dead_letter(self, message: dict[str, Any], reason: str) -> None:
        """Moves the message to the dead-letter queue with its reason: sent before it is
        deleted, so a crash in between duplicates it rather than losing it."""
        log.error("%s dead-letters message %s: %s", self.module.name, message["MessageId"], reason)
        # SQS allows 10 attributes a message: keep room for the three we add.
        kept = [
            (key, value)
            for key, value in message.get("MessageAttributes", {}).items()
            if value.get("DataType") == "String"
        ][: MAX_MESSAGE_ATTRIBUTES - 3]
        attributes = dict(kept)
        attributes |= {
            DEAD_LETTER_REASON: _string(reason[:1000]),
            DEAD_LETTER_SOURCE: _string(self.queues.names.queue(self.module.name)),
            DEAD_LETTERED_AT: _string(datetime.now(UTC).isoformat()),
        }
        self.sqs.send_message(
            QueueUrl=self.queues.dead_letter_url(self.module.name),
            MessageBody=message["Body"],
            MessageAttributes=attributes,
        )
        self._delete(message)

    def _retry_later(
        self, message: dict[str, Any], envelope: Envelope | None, error: Exception
    ) -> None:
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
            error,
            extra=fields,
        )
        if envelope is not None:
            self._remember_failure(envelope, f"{type(error).__name__}: {error}")
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

    def _delete(self, message: dict[str, Any]) -> None:
        self.sqs.delete_message(
            QueueUrl=self.queues.url(self.module.name), ReceiptHandle=message["ReceiptHandle"]
        )


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
