import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from modulith.aws.consumer import QueueConsumer
from modulith.aws.processor import ConsumerReport
from modulith.bootstrap import queue_consumer
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Long-polls the queues of the modules running here and hands each event to their "
        "handlers. SIGTERM finishes the message in hand, gives back the rest of its poll and "
        "exits 0 (at once when idle)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--module", action="append", default=[], help="only this module")
        parser.add_argument("--once", action="store_true", help="one poll of each queue")
        parser.add_argument("--max-messages", type=int, help="stop after this many messages")
        parser.add_argument("--wait", type=int, help="long-poll seconds (default: settings)")

    def handle(
        self,
        *args: Any,
        module: list[str],
        once: bool,
        max_messages: int | None,
        wait: int | None,
        **options: Any,
    ) -> None:
        consumers = self._consumers(module, wait)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        total = ConsumerReport()
        lock = threading.Lock()

        def count(report: ConsumerReport) -> None:
            with lock:
                total.add(report)
                if max_messages is not None and total.messages >= max_messages:
                    stop.set()

        def run(consumer: QueueConsumer) -> None:
            consumer.run(stop, count, once=once)

        # Daemons: a thread waiting in a long poll holds no message and must not hold up exit.
        threads = [
            threading.Thread(target=run, args=(c,), name=f"consume-{c.module.name}", daemon=True)
            for c in consumers
        ]
        names = ", ".join(c.queues.names.queue(c.module.name) for c in consumers)
        self.stdout.write(f"consuming {names}")
        self.stdout.flush()
        for thread in threads:
            thread.start()
        while not stop.wait(0.1) and any(thread.is_alive() for thread in threads):
            pass
        # Stopping: the messages in hand are finished first; a poll in flight is abandoned
        # (whatever it brings back becomes visible again after the visibility timeout).
        for consumer, thread in zip(consumers, threads, strict=True):
            while consumer.busy.is_set() and thread.is_alive():
                thread.join(0.1)
        self.stdout.write(f"consumer stopped: {total}")

    def _consumers(self, names: list[str], wait: int | None) -> list[QueueConsumer]:
        current = runtime()
        if not current.uses_queues:
            raise CommandError(
                "MODULITH_TRANSPORT is inprocess: there are no queues to consume "
                "(set it to sqs, sns or eventbridge)"
            )
        subscribing = [m for m in current.topology.running_modules if m.handles]
        chosen = [m for m in subscribing if not names or m.name in names]
        unknown = sorted(set(names) - {m.name for m in subscribing})
        if unknown or not chosen:
            raise CommandError(
                f"no queue to consume for {', '.join(unknown) or 'this process'}; modules here "
                f"that subscribe to events: {', '.join(m.name for m in subscribing) or 'none'}"
            )
        return [queue_consumer(current, module, wait_seconds=wait) for module in chosen]
