"""Emptying a module's queue once, whatever the transport in use.

When a module's events stop going through queues (the monolith back on the in-process
transport, a module's consumer retired), what the processes of the queue transport sent just
before they stopped is still in the queue, and nothing would read it again. A drain takes it
through the module's handlers, as its consumer would (the same inbox, so a message already
handled is a duplicate without effect), and stops once the queue has stayed empty for a while:
nothing to receive, nothing waiting, in flight (a failed message hidden for its backoff comes
back and is handled) or delayed.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modulith.aws.consumer import QueueConsumer
from modulith.aws.messages import Message
from modulith.aws.processor import ConsumerReport

log = logging.getLogger(__name__)

DEPTH_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


@dataclass(frozen=True)
class QueueDepth:
    """What a queue holds: messages waiting to be received, received and not yet deleted (in
    a consumer's hands, or hidden for a retry's backoff), and sent with a delay."""

    waiting: int
    in_flight: int
    delayed: int

    @property
    def messages(self) -> int:
        return self.waiting + self.in_flight + self.delayed

    @property
    def empty(self) -> bool:
        return not self.messages

    def __str__(self) -> str:
        return f"{self.waiting} waiting, {self.in_flight} in flight, {self.delayed} delayed"


def queue_depth(sqs: Any, url: str) -> QueueDepth:
    """Reads the queue's counts (which receives nothing, so no message's receive count
    grows). SQS's counts are approximate: a queue is empty when they stay at 0 a while."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=DEPTH_ATTRIBUTES)
    counts = [int(attributes["Attributes"].get(name, 0)) for name in DEPTH_ATTRIBUTES]
    return QueueDepth(*counts)


class QueueDrain:
    """Drains one module's queue with its consumer's receive and handling."""

    def __init__(self, consumer: QueueConsumer, *, empty_for: float) -> None:
        self.consumer = consumer
        self.empty_for = empty_for

    @property
    def module(self) -> str:
        return self.consumer.module.name

    @property
    def queue(self) -> str:
        return self.consumer.queues.names.queue(self.module)

    def depth(self) -> QueueDepth:
        return queue_depth(self.consumer.sqs, self.consumer.queues.url(self.module))

    def run(
        self,
        stop: threading.Event,
        on_report: Callable[[ConsumerReport], None],
        *,
        deadline: float,
    ) -> QueueDepth:
        """Receives and handles until the queue has read empty for `empty_for` seconds, `stop`
        is set or the `deadline` (time.monotonic) passes; returns what the queue holds then."""
        empty_since: float | None = None
        failures = 0
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                messages = self.consumer.receive()
                # Messages received: the queue was not empty. None: what does it hold?
                depth = QueueDepth(len(messages), 0, 0) if messages else self.depth()
            except Exception:  # the queue is unreachable: tried again, the deadline bounds it
                failures += 1
                delay = self.consumer.pause.delay(failures).total_seconds()
                log.exception("%s: draining failed; next try in %.1f s", self.module, delay)
                stop.wait(delay)
                continue
            failures = 0
            if messages:
                self._handle(messages, stop, on_report)
            if not depth.empty:
                empty_since = None
                if not messages:  # in flight or delayed: they come back
                    stop.wait(min(1.0, self.empty_for))
                continue
            empty_since = time.monotonic() if empty_since is None else empty_since
            if time.monotonic() - empty_since >= self.empty_for:
                return depth
        return self.depth()

    def _handle(
        self,
        messages: list[Message],
        stop: threading.Event,
        on_report: Callable[[ConsumerReport], None],
    ) -> None:
        # Busy while messages are in hand: a stopping process waits for them.
        self.consumer.busy.set()
        try:
            on_report(self.consumer.handle(messages, stop))
        finally:
            self.consumer.busy.clear()
