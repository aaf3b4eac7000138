"""Consuming a module's queue: one wire format, the same inbox and handlers as in-process
delivery, and a dead-letter queue for what can never be handled."""

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections

from modulith.aws.context import aws_context
from modulith.aws.messages import GroupsBehind, Message
from modulith.aws.processor import (
    ConsumerReport,
    MessageProcessor,
    message_processor,
)
from modulith.modules import Module
from modulith.observability.metrics import CONSUMER_PAUSED
from modulith.outbox.retry import RetryPolicy
from modulith.runtime import Runtime
from modulith.transports.transport import Outcome, Settled

log = logging.getLogger(__name__)

# While a consumer is paused, the messages it holds stay hidden this much past the next probe.
HOLD_MARGIN_SECONDS = 30
# A message waiting for a slot of a busy handler is looked at again this often, at the latest.
SLOT_WAIT_SECONDS = 1.0


class QueueConsumer:
    """Long-polls one module's queue and takes each message through the module's handlers
    (`messages`: success deletes it, a failure puts it back with backoff or dead-letters it).

    A dependency that is down (the module's database, a provider it calls) is not the
    message's fault: the consumer pauses the queue, holds the messages it has (kept hidden,
    so their receive count does not grow), and probes with the first of them after a capped
    backoff, until the dependency answers. An outage of any length delays messages; it never
    dead-letters them.

    A message whose handler runs as many deliveries as its `concurrency` allows in this process
    (several consumers, or other delivery threads, share the process's slots) waits for a slot,
    kept hidden: giving it back to the queue would spend one of its receives each time, and
    enough of them would dead-letter a message that did nothing wrong.
    """

    def __init__(
        self,
        *,
        messages: MessageProcessor,
        pause: RetryPolicy,
        wait_seconds: int,
    ) -> None:
        self.messages = messages
        self.module = messages.module
        self.sqs = messages.sqs
        self.queues = messages.queues
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

    def receive(self, max_messages: int = 10) -> list[Message]:
        response = self.sqs.receive_message(
            QueueUrl=self.queues.url(self.module.name),
            MaxNumberOfMessages=max(1, min(max_messages, 10)),
            WaitTimeSeconds=self.wait_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=[
                "ApproximateReceiveCount",
                "AWSTraceHeader",
                "SentTimestamp",  # the time of a foreign message, which carries only data
                "MessageGroupId",  # of a FIFO queue: a failure holds its group's later ones
            ],
        )
        return list(response.get("Messages", []))

    def handle(self, messages: list[Message], stop: threading.Event) -> ConsumerReport:
        report = ConsumerReport()
        try:
            held, reason = self._handle_in_order(messages, report, stop)
            if held and reason:
                held = self._wait_out(held, reason, report, stop)
            if held:  # stopping: whoever consumes next gets them at once
                self.messages.set_visibility(held, 0)
        finally:
            close_old_connections()
        return report

    def _handle_in_order(
        self, messages: list[Message], report: ConsumerReport, stop: threading.Event
    ) -> tuple[list[Message], str]:
        """Handles the messages in turn until one finds a dependency down, or the consumer is
        told to stop; returns the messages not handled (and why, for a dependency). A message
        of a FIFO queue's group that failed before it in the batch is not handled: it is given
        back, behind the failed one, which its group waits for."""
        behind = GroupsBehind()
        try:
            for index, message in enumerate(messages):
                if stop.is_set():  # the message in hand is finished; the rest are given back
                    return messages[index:], ""
                if behind.holds(message):
                    continue
                try:
                    outcome = self.messages.process(message)
                    if outcome.busy:
                        freed = self._once_a_slot_frees(message, stop)
                        if freed is None:  # stopping: this one is given back with the rest
                            return messages[index:], ""
                        outcome = freed
                except Exception:  # e.g. SQS refused a delete: the others still get handled
                    log.exception(
                        "%s could not finish message %s; it comes back after its visibility "
                        "timeout",
                        self.module.name,
                        message["MessageId"],
                    )
                    behind.failed(message)
                    continue
                if outcome.unavailable:
                    return messages[index:], outcome.error
                if outcome.settled is Settled.RETRY:
                    behind.failed(message)
                report.count(outcome)
            return [], ""
        finally:
            if behind.held:
                self.messages.set_visibility(behind.held, 0)

    def _once_a_slot_frees(self, message: Message, stop: threading.Event) -> Outcome | None:
        """The message's outcome once its busy handler had a slot for it, tried again at each
        release (or each second), the message kept hidden meanwhile; None when told to stop
        first."""
        hidden_at = -float(HOLD_MARGIN_SECONDS)
        while True:
            if time.monotonic() - hidden_at > HOLD_MARGIN_SECONDS / 2:
                self.messages.set_visibility([message], HOLD_MARGIN_SECONDS)
                hidden_at = time.monotonic()
            self.messages.dispatcher.slots.wait_for_release(SLOT_WAIT_SECONDS)
            if stop.is_set():
                return None
            outcome = self.messages.process(message)
            if not outcome.busy:
                return outcome

    def _wait_out(
        self,
        held: list[Message],
        reason: str,
        report: ConsumerReport,
        stop: threading.Event,
    ) -> list[Message]:
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
                self.messages.set_visibility(held, round(delay) + HOLD_MARGIN_SECONDS)
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


def queue_consumer(
    current: Runtime, module: Module, wait_seconds: int | None = None
) -> QueueConsumer:
    """The consumer of one running module's queue."""
    return QueueConsumer(
        messages=message_processor(current, module),
        # A dependency that is down is probed as often as a route that is.
        pause=current.relay.outages.backoff,
        wait_seconds=aws_context(current).wait_seconds if wait_seconds is None else wait_seconds,
    )
