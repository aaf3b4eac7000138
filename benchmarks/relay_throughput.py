"""Relay throughput, outbox to queue, for the sqs, eventbridge and sns transports.

    .venv/bin/python -m benchmarks.relay_throughput [--events N] [--repeat R] [--transport T]

Starts its own AWS emulator (moto in server mode, as the tests do) and its own SQLite module
databases in a temporary directory, provisions the topology (fresh names for each transport,
deleted afterwards), and measures events per second from the outbox to the subscriber's queue:

- relay, batched: events published in one transaction of the payments database wait in the
  outbox (the runtime's executor leaves them to the sweep, so publishing sends
  nothing); then one timed `Relay.sweep` claims them, sends them (SendMessageBatch, PutEvents
  or PublishBatch, 10 a call) and records every outcome in the outbox, as `manage.py relay`
  does;
- relay, one event a call: the same, with the transport's batch_size set to 1;
- raw boto3: the same number of events, serialised beforehand, sent with no database at all
  (SendMessageBatch, PutEvents or PublishBatch of 10, then of 1): the emulator's ceiling in
  this run;
- the relay alone: the same sweep through a Relay built with a transport that accepts every
  event and sends nothing, so what remains is the relay's own work in SQLite;
- relay / raw, CPU s: the same comparison in events per CPU second of this process and the
  emulator's together, over the same timed rounds. On a machine busy with other work the wall
  clock measures the neighbours as much as the relay; CPU seconds measure what each path costs.

The emulator does work proportional to a queue's depth for every message it accepts (at 500
deep, a message costs it several times what it does on an empty queue; real SQS does not), so
the N events go in rounds (100 by default): after each timed round the subscriber's queue is
drained, untimed, which also checks that exactly the round's events arrived (through the bus
and its rule, for eventbridge; through the topic and the queue's subscription, for sns), and
the outbox is emptied. A figure is N over the sum of its
timed rounds; one untimed round of 10 comes first (imports, connections, first calls).
Logging at INFO and below is off. The table goes to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from io import StringIO
from pathlib import Path
from typing import Any

from benchmarks.harness import PRODUCTION, ROOT

DESCRIPTION = "Relay throughput, outbox to queue, for the sqs, eventbridge and sns transports."
TRANSPORTS = ("sqs", "eventbridge", "sns")
PUBLISHER = "payments"  # PaymentCaptured: one subscriber (orders), so one delivery an event
SUBSCRIBER = "orders"
BATCH = 10
MODES = ("batched", "single")
MODE_LABELS = {
    ("none", "batched"): "10 a call",
    ("none", "single"): "1 a call",
    ("sqs", "batched"): "SendMessageBatch, 10 a call",
    ("sqs", "single"): "SendMessageBatch, 1 a call",
    ("eventbridge", "batched"): "PutEvents, 10 a call",
    ("eventbridge", "single"): "PutEvents, 1 a call",
    ("sns", "batched"): "PublishBatch, 10 a call",
    ("sns", "single"): "PublishBatch, 1 a call",
}


@dataclass
class Results:
    """Events per second of every run, by (transport, mode, "relay" | "raw")."""

    runs: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    # Events per CPU second of this process and the emulator together.
    cpu_runs: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)

    def add(self, key: tuple[str, str, str], rate: float, cpu_rate: float) -> None:
        self.runs.setdefault(key, []).append(rate)
        self.cpu_runs.setdefault(key, []).append(cpu_rate)

    def median(self, key: tuple[str, str, str]) -> float:
        return statistics.median(self.runs[key])

    def cpu_median(self, key: tuple[str, str, str]) -> float:
        return statistics.median(self.cpu_runs[key])


class CpuClock:
    """CPU seconds of this process and of the emulator's: what the timed work cost the
    machine, which other work on it does not move the way it moves wall seconds."""

    def __init__(self) -> None:
        self.emulator: int | None = None
        self.spent = 0.0

    def now(self) -> float:
        own = time.process_time()
        if self.emulator is None:
            return own
        stat = Path(f"/proc/{self.emulator}/stat").read_text().rsplit(")", 1)[1].split()
        return own + (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


CPU = CpuClock()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--events", type=int, default=500, help="events per run (500)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; median (1)")
    parser.add_argument(
        "--round", type=int, default=100, dest="round_size", help="events a round (100)"
    )
    parser.add_argument(
        "--transport",
        action="append",
        choices=TRANSPORTS,
        dest="transports",
        help="only this transport (may be repeated; default: all)",
    )
    args = parser.parse_args(argv)
    args.transports = tuple(t for t in TRANSPORTS if t in (args.transports or TRANSPORTS))
    if min(args.events, args.round_size) < BATCH or args.repeat < 1:
        parser.error(f"--events and --round must be at least {BATCH}, --repeat at least 1")

    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="modulith-bench-") as workdir:
        from tests.aws.emulator import Emulator

        with Emulator(log_dir=Path(workdir) / "moto") as emulator:
            _set_up_django(Path(workdir), emulator.endpoint)
            CPU.emulator = emulator.pid
            results = Results()
            for _ in range(args.repeat):
                for transport in args.transports:
                    relay_alone = transport == args.transports[0]
                    _measure(transport, args.events, args.round_size, results, relay_alone)
    elapsed = time.perf_counter() - started
    print(_table(results, args, elapsed, (load, os.getloadavg()[0])))
    return 0


# --- set-up -------------------------------------------------------------------------------


def _set_up_django(workdir: Path, endpoint: str) -> None:
    """This process's environment: the emulator, module databases of its own, the monolith."""
    from tests.aws.emulator import SHADOWING_VARIABLES, aws_environment

    for variable in SHADOWING_VARIABLES:
        os.environ.pop(variable, None)
    var = workdir / "var"
    os.environ.update(aws_environment(endpoint))
    os.environ.update(
        {
            **PRODUCTION,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "MODULITH_VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'default.sqlite3'}",
            "MODULITH_MODULES": "*",
            "MODULITH_TRANSPORT": "sqs",
            "MODULITH_ASYNC_HANDLERS": "inline",
            "MODULITH_EMBEDDED_RELAY": "0",
        }
    )
    for module in ("orders", "inventory", "payments"):
        os.environ[f"{module.upper()}_DATABASE_URL"] = f"sqlite:///{var / module}.sqlite3"
    sys.path.insert(1, str(ROOT / "platform"))

    import django
    from django.core.management import call_command

    django.setup()
    # Log lines (one or two a published and delivered event) would time the terminal.
    logging.disable(logging.INFO)
    call_command("migrate_modules", stdout=StringIO(), verbosity=0)


@contextmanager
def _topology(transport: str) -> Iterator[Any]:
    """A runtime for `transport` with AWS resources of its own (fresh names), provisioned, whose
    relay schedules nothing after commit; the resources are deleted afterwards."""
    from django.conf import settings
    from django.core.management import call_command

    from modulith.outbox.executors import BySweep
    from modulith.runtime import install, runtime
    from modulith.runtime.bootstrap import build_runtime

    name = f"bench{uuid.uuid4().hex[:8]}"
    settings.MODULITH_TRANSPORT = transport
    settings.MODULITH_QUEUE_PREFIX = name
    settings.MODULITH_EVENT_BUS = name
    # Published deliveries wait, unclaimed, for the timed sweep.
    install(build_runtime(executor=lambda relay: BySweep()))
    current = runtime()
    call_command("provision", stdout=StringIO())
    try:
        yield current
    finally:
        _delete_resources(current, name)
        _empty_outbox()


def _aws(current: Any) -> Any:
    from modulith.aws.context import aws_context

    return aws_context(current)


def _delete_resources(current: Any, name: str) -> None:
    sqs, events = _aws(current).sqs, _aws(current).events
    for rule in events.list_rules(EventBusName=name)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=name)["Targets"]
        if targets:
            events.remove_targets(
                Rule=rule["Name"], EventBusName=name, Ids=[t["Id"] for t in targets]
            )
        events.delete_rule(Name=rule["Name"], EventBusName=name)
    events.delete_event_bus(Name=name)
    for url in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    sns = _aws(current).sns
    for topic in _aws(current).resources(current.topology).topics:
        arn = _aws(current).topics.arn(topic.name)
        for subscription in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        sns.delete_topic(TopicArn=arn)


def _empty_outbox() -> None:
    from modulith.database.store.models import Delivery, OutboxEvent

    Delivery.objects.using(PUBLISHER).all().delete()  # before their events, as the purge does
    OutboxEvent.objects.using(PUBLISHER).all().delete()


# --- the measurements ---------------------------------------------------------------------


class AcceptingTransport:
    """A transport that accepts every event at once and sends nothing: the relay alone. Its
    routes are those of the transport the events were published with: with others, the relay
    would reroute every delivery (a transport change) and measure that."""

    name = "none"
    max_batch_bytes = 256 * 1024  # EventBridge's and SNS's limit for one call

    def __init__(self, batch_size: int, routes: Callable[[str], list[str]]) -> None:
        self.batch_size = batch_size
        self.routes = routes

    def send(self, route: str, envelopes: Sequence[Any], **options: Any) -> list[Any]:
        from modulith.transports.transport import DELIVERED

        return [DELIVERED] * len(envelopes)


def _measure(
    transport: str, events: int, round_size: int, results: Results, relay_alone: bool
) -> None:
    """Every figure of one transport (and of the relay alone, if asked), on one topology of its
    own: after each timed round the subscriber's queue is drained, so every round starts on an
    empty queue. A first round of each kind is not timed (imports, connections, the emulator's
    first calls)."""
    from modulith.outbox.relay import Relay

    with _topology(transport) as current:
        for mode in MODES:
            batch_size = BATCH if mode == "batched" else 1
            current.transport.batch_size = batch_size
            alone = Relay(
                AcceptingTransport(batch_size, current.transport.routes), current.relay.policy
            )

            def alone_round(size: int, relay: Any = alone) -> float:
                _publish(size)
                elapsed = _timed(partial(_sweep, relay, size))
                _empty_outbox()
                return elapsed

            def relay(size: int) -> float:
                _publish(size)
                elapsed = _timed(partial(_sweep, current.relay, size))
                _drain(current, size)
                _empty_outbox()
                return elapsed

            def raw(size: int, batch_size: int = batch_size) -> float:
                send = _raw_sender(current, transport, _bodies(size), batch_size)
                elapsed = _timed(send)
                _drain(current, size)
                return elapsed

            if relay_alone:
                _run(results, ("none", mode, "relay"), alone_round, events, round_size)
            _run(results, (transport, mode, "relay"), relay, events, round_size)
            _run(results, (transport, mode, "raw"), raw, events, round_size)


def _run(
    results: Results,
    key: tuple[str, str, str],
    timed_round: Callable[[int], float],
    events: int,
    round_size: int,
) -> None:
    timed_round(BATCH)  # warm-up, not counted
    CPU.spent = 0.0
    elapsed = sum(
        timed_round(min(round_size, events - start)) for start in range(0, events, round_size)
    )
    results.add(key, events / elapsed, events / CPU.spent)
    transport, mode, sender = key
    print(
        f"{transport:12} {mode:8} {sender:6} {events} events in {elapsed:6.2f} s: "
        f"{events / elapsed:7.0f} events/s",
        file=sys.stderr,
        flush=True,
    )


def _publish(events: int) -> list[uuid.UUID]:
    """N PaymentCaptured events in one transaction of the payments database."""
    from django.db import transaction

    from contracts.payments import PaymentCaptured
    from modulith.bus import publish

    with transaction.atomic(using=PUBLISHER):
        return [
            publish(
                PaymentCaptured(
                    order_id=uuid.uuid4(),
                    payment_id=uuid.uuid4(),
                    amount=Decimal("10.00"),
                    currency="EUR",
                )
            )
            for _ in range(events)
        ]


def _sweep(relay: Any, events: int) -> None:
    report = relay.sweep([PUBLISHER], limit=events)
    if report.delivered != events:
        raise RuntimeError(f"the relay delivered {report}: {report.errors[:3]}")


def _bodies(events: int) -> list[Any]:
    """N envelopes like the ones the relay sends, built before the clock starts."""
    from modulith.bus import Envelope

    return [
        Envelope(
            event_id=uuid.uuid4(),
            event_name="PaymentCaptured",
            source=f"{PUBLISHER}.service",
            occurred_at=datetime.now(UTC),
            schema_version="1.0",
            data={
                "orderId": str(uuid.uuid4()),
                "paymentId": str(uuid.uuid4()),
                "amount": "10.00",
                "currency": "EUR",
            },
        )
        for _ in range(events)
    ]


def _raw_sender(
    current: Any, transport: str, envelopes: list[Any], batch_size: int
) -> Callable[[], None]:
    """Plain boto3 calls carrying the same messages, serialised beforehand."""
    from modulith.aws.messages import message_attributes

    def message(index: int, envelope: Any, body: str) -> dict[str, Any]:
        return {
            "Id": str(index % batch_size),
            body: envelope.to_json(),
            "MessageAttributes": message_attributes(envelope),
        }

    call: Callable[[list[dict[str, Any]]], str | None]
    if transport == "sns":
        sns = _aws(current).sns
        topic = _aws(current).topics.arn(_aws(current).names.topic(PUBLISHER))
        entries = [message(i, envelope, "Message") for i, envelope in enumerate(envelopes)]

        def call(chunk: list[dict[str, Any]]) -> str | None:
            sent = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=chunk)
            return f"PublishBatch failed: {sent['Failed'][:3]}" if sent.get("Failed") else None

    elif transport == "sqs":
        sqs, url = _aws(current).sqs, _aws(current).queues.url(SUBSCRIBER)
        entries = [message(i, envelope, "MessageBody") for i, envelope in enumerate(envelopes)]

        def call(chunk: list[dict[str, Any]]) -> str | None:
            failed = sqs.send_message_batch(QueueUrl=url, Entries=chunk)
            return (
                f"SendMessageBatch failed: {failed['Failed'][:3]}" if failed.get("Failed") else None
            )

    else:
        events, bus = _aws(current).events, _aws(current).names.bus
        entries = [
            {
                "EventBusName": bus,
                "Source": envelope.source,
                "DetailType": envelope.event_name,
                "Detail": json.dumps(envelope.to_wire()["detail"], separators=(",", ":")),
                "Time": envelope.occurred_at,
            }
            for envelope in envelopes
        ]

        def call(chunk: list[dict[str, Any]]) -> str | None:
            put = events.put_events(Entries=chunk)
            return f"PutEvents failed: {put['Entries'][:3]}" if put["FailedEntryCount"] else None

    chunks = [entries[i : i + batch_size] for i in range(0, len(entries), batch_size)]

    def send() -> None:
        for chunk in chunks:
            if failure := call(chunk):
                raise RuntimeError(failure)

    return send


def _timed(work: Callable[[], None]) -> float:
    started, cpu = time.perf_counter(), CPU.now()
    work()
    CPU.spent += CPU.now() - cpu
    return time.perf_counter() - started


def _drain(current: Any, expected: int) -> None:
    """Takes the round's messages off the subscriber's queue (they reached it through the rule,
    for eventbridge, or the subscription, for sns), checking that exactly `expected` arrived."""
    sqs, url = _aws(current).sqs, _aws(current).queues.url(SUBSCRIBER)
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        ).get("Messages", [])
        if not page and len(seen) >= expected:
            break
        seen.update(message["MessageId"] for message in page)
        if page:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(page)
                ],
            )
    if len(seen) != expected:
        raise RuntimeError(f"{len(seen)} of {expected} events reached the {SUBSCRIBER} queue")


# --- the table ----------------------------------------------------------------------------


def _table(
    results: Results, args: argparse.Namespace, total: float, load: tuple[float, float]
) -> str:
    runs = f"median of {args.repeat} runs" if args.repeat > 1 else "one run"
    lines = [
        f"{args.events} events a run in rounds of {args.round_size}, {runs}; events/s from "
        f"outbox to queue. Whole benchmark: {total:.0f} s on {os.cpu_count()} CPUs, load "
        f"average {load[0]:.1f} at the start and {load[1]:.1f} at the end.",
        "",
        "| transport | calls | relay (events/s) | raw boto3 (events/s) | relay / raw "
        "| relay / raw, CPU s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        relay = results.median(("none", mode, "relay"))
        lines.append(
            f"| none: the relay alone, on SQLite | {MODE_LABELS['none', mode]} | {relay:.0f} "
            "| | | |"
        )
    for transport in args.transports:
        for mode in MODES:
            relay = results.median((transport, mode, "relay"))
            raw = results.median((transport, mode, "raw"))
            cpu = results.cpu_median((transport, mode, "relay")) / results.cpu_median(
                (transport, mode, "raw")
            )
            lines.append(
                f"| {transport} | {MODE_LABELS[transport, mode]} | {relay:.0f} | {raw:.0f} "
                f"| {relay / raw:.2f} | {cpu:.2f} |"
            )
        lines.append(
            f"| {transport} | batched / 1 a call | "
            f"{_ratio(results, transport, 'relay')} | {_ratio(results, transport, 'raw')} | | |"
        )
    return "\n".join(lines)


def _ratio(results: Results, transport: str, sender: str) -> str:
    batched = results.median((transport, "batched", sender))
    single = results.median((transport, "single", sender))
    return f"{batched / single:.1f}x"


if __name__ == "__main__":
    sys.exit(main())
