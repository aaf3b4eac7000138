"""Scheduled-event lateness: how long after its time a scheduled event reaches its handler,
under a steady load of ordinary events.

    .venv/bin/python -m benchmarks.scheduled_lateness [--seconds 60] [--rate 100] [--interval 2]

This process is the web tier of the monolith (DEBUG off, SQLite module databases in a temporary
directory, the in-process transport), and publishes, each in a transaction of its own:
`--rate` ordinary events a second, and a scheduled one every `--every` seconds, due 1 to 3 s
after it is published. It delivers nothing itself (its executor leaves what it publishes to the
sweep), so the ordinary events load the relay that carries the scheduled ones: one
`manage.py relay --interval I` process, as a deployment runs it (it drains what is due, then
sleeps I seconds). All events are OrderConfirmed: inventory's handler finds no reservation,
so what a delivery costs is the bus's own work (claim, handler transaction with its inbox
record, outcome).

A scheduled event's lateness is the time from when it was due to its handler's inbox record
(written as the handler starts its transaction). Printed: p50, p99 and the largest lateness,
how many ordinary events were published and delivered, and the goal: p99 within the relay's
interval and a second.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from benchmarks.harness import ROOT, goal, load_average, machine, percentiles, set_up_django

DESCRIPTION = "How late scheduled events reach their handler under a steady load of others."
PUBLISHER = "orders"  # OrderConfirmed: one subscriber, inventory
SUBSCRIBER = "inventory"
SOONEST, LATEST = 1.0, 3.0  # seconds from publication to a scheduled event's time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs")
    parser.add_argument("--rate", type=float, default=100.0, help="ordinary events a second")
    parser.add_argument("--every", type=float, default=0.2, help="seconds between scheduled")
    parser.add_argument("--interval", type=float, default=2.0, help="the relay's interval")
    args = parser.parse_args(argv)
    started, loads = time.monotonic(), [load_average()]
    with tempfile.TemporaryDirectory(prefix="modulith-lateness-") as var:
        set_up_django(Path(var))
        _deliver_by_sweep_only()
        with _RelayProcess(Path(var), args.interval) as relay_log:
            ordinary, scheduled = _load(args)
            lateness = _lateness(scheduled, timeout=args.interval + LATEST + 30, log=relay_log)
            delivered = _delivered(ordinary)
    loads.append(load_average())
    _report(args, lateness, len(ordinary), delivered, time.monotonic() - started, loads)
    return 0 if percentiles(lateness)[1] <= args.interval + 1 else 1


def _deliver_by_sweep_only() -> None:
    """This process publishes; only the relay delivers."""
    from modulith.outbox.executors import BySweep
    from modulith.runtime import install
    from modulith.runtime.bootstrap import build_runtime

    install(build_runtime(executor=lambda relay: BySweep()))


class _RelayProcess:
    """`manage.py relay --interval I` on this process's databases, stopped by its PID."""

    def __init__(self, var: Path, interval: float) -> None:
        self.log = var / "relay.log"
        self.interval = interval
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Path:
        # This process's environment (set_up_django's), logging off below warnings as here.
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
            "LOG_LEVEL": "WARNING",
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "relay", "--interval", str(self.interval)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while "relaying" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the relay did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        return self.log

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _load(args: argparse.Namespace) -> tuple[list[UUID], list[UUID]]:
    """Publishes for `args.seconds`: ordinary events at `args.rate` a second on one thread,
    scheduled ones every `args.every` seconds on another. Returns the ids of each."""
    ordinary: list[UUID] = []
    scheduled: list[UUID] = []
    stop = threading.Event()

    def steadily(period: float, publish_one: Any, into: list[UUID]) -> None:
        from django.db import connections

        next_at = time.monotonic()
        try:
            while not stop.is_set():
                into.append(publish_one())
                next_at += period
                stop.wait(max(next_at - time.monotonic(), 0))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=steadily, args=(1 / args.rate, _publish_ordinary, ordinary)),
        threading.Thread(target=steadily, args=(args.every, _publish_scheduled, scheduled)),
    ]
    for thread in threads:
        thread.start()
    stop.wait(args.seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    print(
        f"published {len(ordinary)} ordinary and {len(scheduled)} scheduled events in "
        f"{args.seconds:g} s",
        file=sys.stderr,
    )
    return ordinary, scheduled


def _publish_ordinary() -> UUID:
    from django.db import transaction

    from contracts.orders import OrderConfirmed
    from modulith import publish

    with transaction.atomic(using=PUBLISHER):
        return publish(OrderConfirmed(order_id=uuid4()))


def _publish_scheduled() -> UUID:
    from django.db import transaction

    from contracts.orders import OrderConfirmed
    from modulith import publish

    delay = timedelta(seconds=random.uniform(SOONEST, LATEST))
    with transaction.atomic(using=PUBLISHER):
        return publish(OrderConfirmed(order_id=uuid4()), delay=delay)


def _lateness(scheduled: list[UUID], *, timeout: float, log: Path) -> list[float]:
    """Seconds from each scheduled event's time to its handler's inbox record, once every one
    has one (waiting at most `timeout` seconds)."""
    from modulith.database.store.models import InboxRecord, OutboxEvent

    records = InboxRecord.objects.using(SUBSCRIBER).filter(event_id__in=scheduled)
    deadline = time.monotonic() + timeout
    while records.count() < len(scheduled):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{len(scheduled) - records.count()} scheduled events not handled after "
                f"{timeout:g} s; the relay said:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.5)
    handled = dict(records.values_list("event_id", "handled_at"))
    due = {
        event: moment
        for event, moment in OutboxEvent.objects.using(PUBLISHER)
        .filter(id__in=scheduled)
        .values_list("id", "deliver_at")
        if moment is not None
    }
    return sorted((handled[event] - due[event]).total_seconds() for event in scheduled)


def _delivered(ordinary: list[UUID]) -> int:
    from modulith.database.store.models import InboxRecord

    ids = set(ordinary)
    handled = InboxRecord.objects.using(SUBSCRIBER).values_list("event_id", flat=True)
    return sum(1 for event in handled.iterator() if event in ids)


def _report(
    args: argparse.Namespace,
    lateness: list[float],
    ordinary: int,
    delivered: int,
    elapsed: float,
    loads: list[float],
) -> None:
    p50, p99 = percentiles(lateness)
    bound = args.interval + 1
    print(f"\n## {DESCRIPTION}\n")
    print(
        f"Relay interval {args.interval:g} s; ordinary events {args.rate:g}/s for "
        f"{args.seconds:g} s ({ordinary} published, {delivered} delivered by the end); a "
        f"scheduled one every {args.every:g} s, due {SOONEST:g} to {LATEST:g} s later.\n"
    )
    print("| scheduled events | p50 | p99 | max | earliest |")
    print("|---|---|---|---|---|")
    print(
        f"| {len(lateness)} | {p50:.3f} s | {p99:.3f} s | {lateness[-1]:.3f} s | "
        f"{lateness[0]:.3f} s |\n"
    )
    print(goal(f"p99 from due time to handler ≤ relay interval + 1 s = {bound:g} s", p99 <= bound))
    print(machine(elapsed, (loads[0], loads[-1])))


if __name__ == "__main__":
    sys.exit(main())
