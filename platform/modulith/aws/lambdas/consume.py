"""The consume function: an SQS event source of the running modules' queues.

Each record goes through `MessageProcessor`, as every message of the long-polling consumer
does (inbox, handlers, trace, failure records). The answer names the records that failed
(`batchItemFailures`, for an event source mapping with ReportBatchItemFailures): the mapping
deletes the others and leaves those for another receive, after the backoff the processor set
as their visibility; after MODULITH_MAX_RECEIVES receives the queue's redrive policy moves a
message to its dead-letter queue. What can never be handled is dead-lettered here at once,
with its reason, and reported as done.

A dependency that is down (the module's database, a provider) is not the messages' fault: a
function cannot wait the outage out as the consumer does, so the message that found it down
and the rest of the batch are sent again, delayed by the pause's backoff, as new messages
whose receive count starts afresh. An outage delays them; it uses up none of their receives.
"""

import logging
from typing import Any

from modulith.aws.lambdas.start import LambdaContext, cold_start, invocation

cold_start()  # Django first: the imports below load models

from modulith.aws.context import aws_context  # noqa: E402
from modulith.aws.lambdas.records import Record, message_of, queue_name  # noqa: E402
from modulith.aws.messages import GroupsBehind  # noqa: E402
from modulith.aws.names import is_fifo  # noqa: E402
from modulith.aws.processor import (  # noqa: E402
    ConsumerReport,
    MessageProcessor,
    message_processor,
)
from modulith.modules import Module  # noqa: E402
from modulith.runtime import runtime  # noqa: E402
from modulith.transports.transport import Settled  # noqa: E402

log = logging.getLogger(__name__)

# A record started with less time than this left could be cut off by the function's timeout,
# and the whole batch with it: the rest are given back for another receive instead.
RESERVE_MILLIS = 3000


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with invocation(context):
        failed = consume(event.get("Records", []), context)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def consume(records: list[Record], context: LambdaContext) -> list[str]:
    """Handles the records in order; returns the message ids of those to receive again. A
    record of a FIFO queue's group that failed before it in the batch is not handled, but
    received again after the failed one (SQS's partial batch response keeps the group's
    order), while the other groups go on."""
    report = ConsumerReport()
    failed: list[str] = []
    processors = Processors()
    behind = GroupsBehind()
    for index, record in enumerate(records):
        if context.get_remaining_time_in_millis() < RESERVE_MILLIS:
            failed += [later["messageId"] for later in records[index:]]
            break
        message = message_of(record)
        if behind.holds(message):  # given back at once, behind the failed one of its group
            failed.append(record["messageId"])
            processors.of(record).set_visibility([message], 0)
            continue
        processor = processors.of(record)
        try:
            outcome = processor.process(message)
        except Exception:  # e.g. SQS refused the dead-letter send: the others still get handled
            log.exception(
                "%s could not finish message %s; it comes back after its visibility timeout",
                processor.module.name,
                record["messageId"],
            )
            failed.append(record["messageId"])
            behind.failed(message)
            continue
        if outcome.unavailable:
            failed += _send_again(processors, records[index:], outcome.error)
            break
        if outcome.busy:  # (a function handles one batch at a time: only if it delivers too)
            failed += _send_again(processors, [record], outcome.error)
            behind.failed(message)  # a FIFO group's later messages wait behind it
            continue
        report.count(outcome)
        if outcome.settled is Settled.RETRY:
            failed.append(record["messageId"])
            behind.failed(message)
    log.info("consumed %d record(s): %s; %d to receive again", len(records), report, len(failed))
    return failed


def _send_again(processors: "Processors", held: list[Record], reason: str) -> list[str]:
    """Holds the records while a dependency is down; returns those it could not send again
    (SQS may be down too), to receive again."""
    log.error(
        "a dependency is unavailable (%s); %d message(s) sent again, delayed, until it answers",
        reason,
        len(held),
    )
    pause = runtime().relay.outages.backoff
    unsent: list[str] = []
    for record in held:
        if is_fifo(queue_name(record)):
            # A copy would go behind its group's later messages (and a FIFO queue takes no
            # delay per message): received again instead, in its place.
            unsent.append(record["messageId"])
            continue
        try:
            processors.of(record).send_again(message_of(record), pause)
        except Exception as error:
            log.warning("could not send message %s again: %s", record["messageId"], error)
            unsent.append(record["messageId"])
    return unsent


class Processors:
    """The processor of each running module whose queue a record comes from (one event
    source mapping reads one queue; a function may run several modules)."""

    def __init__(self) -> None:
        self.current = runtime()
        self._by_queue: dict[str, MessageProcessor] = {}

    def of(self, record: Record) -> MessageProcessor:
        name = queue_name(record)
        if name not in self._by_queue:
            self._by_queue[name] = message_processor(
                self.current, self._module_of(name), deletes=False
            )
        return self._by_queue[name]

    def _module_of(self, queue: str) -> Module:
        names = aws_context(self.current).names
        running = [m for m in self.current.topology.running_modules if m.handles]
        for module in running:
            if names.queue(module.name) == queue:
                return module
        raise LookupError(
            f"{queue} is not the queue of a module running here "
            f"({', '.join(names.queue(m.name) for m in running) or 'none subscribes to events'})"
        )
