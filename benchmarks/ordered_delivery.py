"""Ordered delivery against unordered on the same backlog, and over SQS FIFO against raw boto3.

    .venv/bin/python -m benchmarks.ordered_delivery [--events N] [--keys K] [--repeat R]

Two figures, each a ratio to a baseline measured in the same run (DEBUG off, logging at INFO
and below off):

- the relay alone, on SQLite: a backlog of N events (2,000) over K keys (100), committed in the
  outbox of inventory and subscribed to by orders, drained by `Relay.drain` through a transport
  that accepts every event and sends nothing (relay_throughput.py's "relay alone"), so what is
  timed is the relay's own work: its claims (which, for ordered events, look at each key's
  earlier deliveries) and its records. The same backlog of an event type with no ordering key
  is the baseline; the two alternate, R times (3), the medians compared, in events a second
  and in events a CPU second of this process (which does all of SQLite's work too, so a busy
  machine's neighbours do not move it). Goal: ordered ≥ 0.8x unordered.
- over SQS FIFO, against the AWS emulator (moto in server mode, started here): the relay sends
  the ordered backlog (in rounds of 100, each to fresh FIFO queues) to orders' FIFO queue, each
  message in its key's group, deduplicated by its event id; the baseline is raw boto3 sending
  the same number of messages, serialised beforehand, with the same group and deduplication
  ids, SendMessageBatch of 10, no database. The emulator is the ceiling of both.

The table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.harness import goal, load_average, machine, set_up_django
from modulith.contracts import Event

DESCRIPTION = "Ordered delivery against unordered on the same backlog, and over SQS FIFO."
PUBLISHER = "inventory"
SUBSCRIBER = "orders"
GOAL = 0.8
ROUND = 100  # events a round over SQS: the emulator slows down as a queue fills


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--events", type=int, default=2000, help="events a backlog (2000)")
    parser.add_argument("--keys", type=int, default=100, help="ordering keys (100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; median (3)")
    parser.add_argument(
        "--sqs-events", type=int, default=500, help="events sent over SQS FIFO (500)"
    )
    args = parser.parse_args(argv)
    started, load = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="modulith-bench-") as workdir:
        from tests.aws.emulator import SHADOWING_VARIABLES, Emulator, aws_environment

        with Emulator(log_dir=Path(workdir) / "moto") as emulator:
            for variable in SHADOWING_VARIABLES:
                os.environ.pop(variable, None)
            set_up_django(Path(workdir) / "var")
            os.environ.update(aws_environment(emulator.endpoint))
            alone = _relay_alone(args)
            fifo = _over_fifo(args)
    elapsed = time.perf_counter() - started
    print(_table(args, alone, fifo, machine(elapsed, (load, load_average()))))
    return 0


# --- the events and their topology -----------------------------------------------------------


class PriceChanged(Event):
    ordering_key = "sku"

    sku: str
    sequence: int


class PriceNoted(Event):
    """PriceChanged without an ordering key: the baseline."""

    sku: str
    sequence: int


ORDERED, UNORDERED = PriceChanged, PriceNoted


def ignore(event: Any) -> None:
    """The subscriber's handler: the timed paths never call it (nothing is handled here)."""


def _topology() -> Any:
    from modulith import Module
    from modulith.modules import Topology

    handler = "benchmarks.ordered_delivery.ignore"
    return Topology(
        modules=(
            Module(name=PUBLISHER, app="modules.inventory", publishes=(ORDERED, UNORDERED)),
            Module(
                name=SUBSCRIBER,
                app="modules.orders",
                handles={ORDERED: handler, UNORDERED: handler},
            ),
        ),
        running=frozenset({PUBLISHER, SUBSCRIBER}),
    )


@contextmanager
def _runtime(transport: str = "inprocess") -> Iterator[Any]:
    """The benchmark's topology relaying through `transport`; what is published waits for the
    timed sweep."""
    from django.conf import settings

    from modulith.outbox.executors import BySweep
    from modulith.runtime import install, runtime
    from modulith.runtime.bootstrap import build_runtime

    previous = runtime()
    settings.MODULITH_TRANSPORT = transport
    install(build_runtime(topology=_topology(), executor=lambda relay: BySweep()))
    try:
        yield runtime()
    finally:
        install(previous)


def _publish(event_type: type[Any], events: int, keys: int) -> None:
    from django.db import transaction

    from modulith import publish

    with transaction.atomic(using=PUBLISHER):
        for index in range(events):
            publish(event_type(sku=f"SKU-{index % keys}", sequence=index // keys))


def _empty_outbox() -> None:
    from modulith.database.store.models import Delivery, OutboxEvent

    Delivery.objects.using(PUBLISHER).all().delete()
    OutboxEvent.objects.using(PUBLISHER).all().delete()


# --- the relay alone ---------------------------------------------------------------------------


class AcceptingTransport:
    """Accepts every event at once and sends nothing: the relay alone."""

    name = "none"
    batch_size = 10
    max_batch_bytes = 256 * 1024

    def __init__(self, routes: Callable[[str], list[str]]) -> None:
        self.routes = routes

    def send(self, route: str, envelopes: Sequence[Any], **options: Any) -> list[Any]:
        from modulith.transports.transport import DELIVERED

        return [DELIVERED] * len(envelopes)


def _relay_alone(args: argparse.Namespace) -> dict[str, float]:
    """Events a second of each kind, and a CPU second of this process (SQLite works in it),
    the median of its runs: on a machine busy with other work, the wall clock measures the
    neighbours as much as the relay."""
    from modulith.outbox.relay import Relay

    rates: dict[str, list[float]] = {
        "ordered": [],
        "unordered": [],
        "ordered cpu": [],
        "unordered cpu": [],
    }
    with _runtime() as current:
        relay = Relay(
            AcceptingTransport(current.transport.routes),
            current.relay.policy,
            order=current.relay.claims.order,
        )
        for run in range(args.repeat + 1):  # the first of each is not counted
            for kind, event_type in (("ordered", ORDERED), ("unordered", UNORDERED)):
                _publish(event_type, args.events, args.keys)
                start, cpu = time.perf_counter(), time.process_time()
                report = relay.drain([PUBLISHER])
                elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
                if report.delivered != args.events:
                    raise SystemExit(f"{kind}: {report.delivered} of {args.events} delivered")
                _empty_outbox()
                if run:
                    rates[kind].append(args.events / elapsed)
                    rates[f"{kind} cpu"].append(args.events / cpu)
                    print(
                        f"relay alone {kind:9} {args.events / elapsed:7.0f} events/s",
                        file=sys.stderr,
                        flush=True,
                    )
    return {kind: statistics.median(values) for kind, values in rates.items()}


# --- over SQS FIFO -----------------------------------------------------------------------------


def _over_fifo(args: argparse.Namespace) -> dict[str, float]:
    """Events a second through the relay, and raw boto3, to orders' FIFO queue."""
    from modulith.aws.context import aws_context
    from modulith.aws.provision import Provisioner

    elapsed = {"relay": 0.0, "raw": 0.0}
    rounds = [min(ROUND, args.sqs_events - start) for start in range(0, args.sqs_events, ROUND)]
    with _runtime("sqs") as current:
        aws = aws_context(current)
        for size in [10, *rounds]:  # the first round is not counted
            for kind in ("relay", "raw"):
                _fresh_queues(aws, current, Provisioner)
                if kind == "relay":
                    _publish(ORDERED, size, args.keys)
                    start = time.perf_counter()
                    report = current.relay.drain([PUBLISHER])
                    spent = time.perf_counter() - start
                    _empty_outbox()
                    if report.delivered != size:
                        raise SystemExit(f"relay: {report.delivered} of {size} sent")
                else:
                    spent = _raw_sends(aws, size, args.keys)
                if _depth(aws) != size:
                    raise SystemExit(f"{kind}: {_depth(aws)} of {size} on the queue")
                if size != 10:
                    elapsed[kind] += spent
        for kind, spent in elapsed.items():
            print(
                f"sqs fifo {kind:5} {args.sqs_events / spent:7.0f} events/s",
                file=sys.stderr,
                flush=True,
            )
    return {kind: args.sqs_events / spent for kind, spent in elapsed.items()}


def _fresh_queues(aws: Any, current: Any, provisioner: Any) -> None:
    """The subscriber's FIFO queues, deleted and made again (at the same URLs): empty, as the
    emulator is fastest."""
    for url in aws.sqs.list_queues(QueueNamePrefix=aws.names.prefix).get("QueueUrls", []):
        aws.sqs.delete_queue(QueueUrl=url)
    provisioner(aws).apply(aws.resources(current.topology))


def _raw_sends(aws: Any, events: int, keys: int) -> float:
    """The same messages, made beforehand, sent with SendMessageBatch of 10; seconds taken."""
    url = aws.queues.url(SUBSCRIBER)
    body = '{"detail-type": "PriceChanged", "detail": {"data": {"sku": "SKU-0"}}}'
    entries = [
        {
            "Id": str(index % 10),
            "MessageBody": body,
            "MessageGroupId": f"SKU-{index % keys}",
            "MessageDeduplicationId": str(uuid.uuid4()),
        }
        for index in range(events)
    ]
    start = time.perf_counter()
    for first in range(0, events, 10):
        aws.sqs_sender.send_message_batch(QueueUrl=url, Entries=entries[first : first + 10])
    return time.perf_counter() - start


def _depth(aws: Any) -> int:
    attributes = aws.sqs.get_queue_attributes(
        QueueUrl=aws.queues.url(SUBSCRIBER), AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


# --- the table ---------------------------------------------------------------------------------


def _table(
    args: argparse.Namespace, alone: dict[str, float], fifo: dict[str, float], footer: str
) -> str:
    ratio = alone["ordered"] / alone["unordered"]
    cpu_ratio = alone["ordered cpu"] / alone["unordered cpu"]
    return "\n".join(
        [
            f"{args.events} events over {args.keys} keys, median of {args.repeat} runs; "
            f"{args.sqs_events} events over SQS FIFO in rounds of {ROUND}. {footer}",
            "",
            "| path | baseline | events/s | baseline events/s | ratio |",
            "|---|---|---:|---:|---:|",
            f"| relay alone, ordered, SQLite | the same backlog unordered | "
            f"{alone['ordered']:.0f} | {alone['unordered']:.0f} | {ratio:.2f}x |",
            f"| relay alone, ordered, SQLite, per CPU second | the same, unordered | "
            f"{alone['ordered cpu']:.0f} | {alone['unordered cpu']:.0f} | {cpu_ratio:.2f}x |",
            f"| relay to an SQS FIFO queue, ordered | raw boto3 FIFO sends | "
            f"{fifo['relay']:.0f} | {fifo['raw']:.0f} | {fifo['relay'] / fifo['raw']:.2f}x |",
            "",
            goal(
                f"ordered / unordered, relay alone, >= {GOAL}x (now {ratio:.2f}x; "
                f"{cpu_ratio:.2f}x in CPU seconds)",
                min(ratio, cpu_ratio) >= GOAL,
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
