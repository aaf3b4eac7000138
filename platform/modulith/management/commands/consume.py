import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.aws.consumer import QueueConsumer, queue_consumer
from modulith.aws.context import aws_context
from modulith.aws.drain import QueueDepth, QueueDrain
from modulith.aws.processor import ConsumerReport
from modulith.conf import extras
from modulith.modules import Module
from modulith.runtime import Runtime, runtime

# SQS's counts are approximate: a drained queue must read empty this long.
DRAIN_EMPTY_FOR_SECONDS = 30.0
DRAIN_TIMEOUT_SECONDS = 900.0
DRAIN_WAIT_SECONDS = 2  # each receive's long poll while draining


class Command(BaseCommand):
    help = (
        "Long-polls the queues of the modules running here and hands each event to their "
        "handlers. SIGTERM finishes the message in hand, gives back the rest of its poll, waits "
        "until what its handlers published has left (what cannot stays in the outbox for the "
        "next relay) and exits 0 (at once when idle). --drain empties the queues once and "
        "exits, whatever MODULITH_TRANSPORT is: what a queue transport left in them after a "
        "flip back to inprocess."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--module", action="append", default=[], help="only this module")
        parser.add_argument("--once", action="store_true", help="one poll of each queue")
        parser.add_argument("--max-messages", type=int, help="stop after this many messages")
        parser.add_argument("--wait", type=int, help="long-poll seconds (default: settings)")
        parser.add_argument(
            "--drain",
            action="store_true",
            help="empty the queues once and exit: 0 once each has read empty for --empty-for "
            "seconds, 1 if --timeout comes first (any MODULITH_TRANSPORT, inprocess too)",
        )
        parser.add_argument(
            "--empty-for",
            type=float,
            default=DRAIN_EMPTY_FOR_SECONDS,
            help="with --drain: how long a queue must read empty (SQS's counts are approximate)",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=DRAIN_TIMEOUT_SECONDS,
            help="with --drain: give up after this many seconds",
        )

    def handle(
        self,
        *args: Any,
        module: list[str],
        once: bool,
        max_messages: int | None,
        wait: int | None,
        drain: bool,
        empty_for: float,
        timeout: float,
        **options: Any,
    ) -> None:
        if drain and (once or max_messages is not None):
            raise CommandError(
                "--drain runs until the queues are empty: leave out --once and --max-messages"
            )
        current = runtime()
        modules = _subscribing(current, module, drain=drain)
        if drain:
            wait = DRAIN_WAIT_SECONDS if wait is None else wait
        consumers = [queue_consumer(current, m, wait_seconds=wait) for m in modules]
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        total = ConsumerReport()
        lock = threading.Lock()

        def count(report: ConsumerReport) -> None:
            with lock:
                total.add(report)
                if max_messages is not None and total.settled >= max_messages:
                    stop.set()

        names = ", ".join(c.queues.names.queue(c.module.name) for c in consumers)
        self.stdout.write(f"{'draining' if drain else 'consuming'} {names}")
        self.stdout.flush()
        if not drain:
            _consume(consumers, stop, count, once)
            self.stdout.write(f"consumer stopped: {total}{_finish_published(current, modules)}")
            return
        left = _drain([QueueDrain(c, empty_for=empty_for) for c in consumers], stop, count, timeout)
        kept = _finish_published(current, modules)
        unsettled = [
            f"{queue} holds {depth or 'what could not be read'}"
            for queue, depth in left.items()
            if depth is None or not depth.empty
        ]
        if unsettled:
            why = "interrupted" if stop.is_set() else f"not empty after {timeout:.0f} s"
            raise CommandError(f"drain {why}: {'; '.join(unsettled)} ({total}{kept})")
        self.stdout.write(f"drained {names}: {total}{kept}")


def _finish_published(current: Runtime, modules: list[Module]) -> str:
    """Waits (at most a claim's time) for what the handlers published to leave; says what is
    left in the outbox for the next relay."""
    held = current.relay.finish_published(
        [m.database for m in modules], timeout=current.relay.claims.lease.total_seconds()
    )
    if not held:
        return ""
    return f"; {held} of the deliveries it published are left in the outbox for the next relay"


def _subscribing(current: Runtime, names: list[str], *, drain: bool) -> list[Module]:
    """The running modules whose queues to consume (those named, or all that handle events)."""
    if not current.kind.uses_queues and not drain:
        raise CommandError(
            "MODULITH_TRANSPORT is inprocess: there are no queues to consume (set it to sqs, "
            "sns or eventbridge; to empty what a queue transport left in them, consume --drain)"
        )
    if not current.kind.uses_queues:
        extras.require(extras.AWS, needed_by="consume --drain")
        if not aws_context(current).region:
            raise CommandError(
                "consume --drain needs the queues' AWS region: set AWS_DEFAULT_REGION (and "
                "MODULITH_QUEUE_PREFIX as the queue transport had it)"
            )
    subscribing = [m for m in current.topology.running_modules if m.handles]
    chosen = [m for m in subscribing if not names or m.name in names]
    unknown = sorted(set(names) - {m.name for m in subscribing})
    if unknown or not chosen:
        raise CommandError(
            f"no queue to consume for {', '.join(unknown) or 'this process'}; modules here "
            f"that subscribe to events: {', '.join(m.name for m in subscribing) or 'none'}"
        )
    return chosen


def _consume(
    consumers: list[QueueConsumer],
    stop: threading.Event,
    count: Callable[[ConsumerReport], None],
    once: bool,
) -> None:
    threads = _started({c: partial(c.run, stop, count, once=once) for c in consumers})
    while not stop.wait(0.1) and any(thread.is_alive() for thread in threads.values()):
        pass
    _finish_in_hand(threads)


def _drain(
    drains: list[QueueDrain],
    stop: threading.Event,
    count: Callable[[ConsumerReport], None],
    timeout: float,
) -> dict[str, QueueDepth | None]:
    """Each queue drained on a thread of its own; what each holds at the end, by queue name
    (None: it could not be read)."""
    deadline = time.monotonic() + timeout
    left: dict[str, QueueDepth | None] = {d.queue: None for d in drains}

    def run(drain: QueueDrain) -> None:
        left[drain.queue] = drain.run(stop, count, deadline=deadline)

    threads = _started({d.consumer: partial(run, d) for d in drains})
    while any(thread.is_alive() for thread in threads.values()) and not stop.wait(0.1):
        pass
    _finish_in_hand(threads)
    return left


def _started(
    runs: dict[QueueConsumer, Callable[[], None]],
) -> dict[QueueConsumer, threading.Thread]:
    # Daemons: a thread waiting in a long poll holds no message and must not hold up exit.
    threads = {
        consumer: threading.Thread(target=run, name=f"consume-{consumer.module.name}", daemon=True)
        for consumer, run in runs.items()
    }
    for thread in threads.values():
        thread.start()
    return threads


def _finish_in_hand(threads: dict[QueueConsumer, threading.Thread]) -> None:
    """Stopping: the messages in hand are finished first; a poll in flight is abandoned
    (whatever it brings back becomes visible again after the visibility timeout)."""
    for consumer, thread in threads.items():
        while consumer.busy.is_set() and thread.is_alive():
            thread.join(0.1)
