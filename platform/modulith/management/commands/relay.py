import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modulith.management.selection import chosen_modules
from modulith.outbox.outcomes import RelayReport
from modulith.runtime import runtime


class Command(BaseCommand):
    help = (
        "Delivers events that were committed but not delivered (the process died, a handler "
        "failed and is due again) and purges what is past its retention. Sweeps until nothing "
        "is due, once (--once) or again every --interval seconds until SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="sweep once and exit")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between sweeps (default: MODULITH_RELAY_INTERVAL)",
        )
        parser.add_argument("--module", action="append", default=[], help="only this module")

    def handle(
        self, *args: Any, once: bool, interval: float | None, module: list[str], **options: Any
    ) -> None:
        current = runtime()
        if interval is None:
            interval = current.settings.relay_interval
        aliases = list(dict.fromkeys(chosen.database for chosen in chosen_modules(module)))
        if once:
            self.stdout.write(f"relay: {current.relay.drain(aliases)}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        total = RelayReport()
        self.stdout.write(f"relaying {', '.join(aliases)} every {interval:g} s until SIGTERM")
        self.stdout.flush()
        while not stop.is_set():
            report = current.relay.drain(aliases, stop)  # sleeps only once nothing is due
            if report.handled or report.purged:
                self.stdout.write(f"relay: {report}")
            total.add(report)
            stop.wait(interval)
        self.stdout.write(f"relay stopped: {total}")
