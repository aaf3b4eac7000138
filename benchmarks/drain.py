"""How fast the relay drains a backlog, and whether it stays linear and small: committed events
waiting in the outbox, swept by a relay whose transport accepts everything and sends nothing
(relay_throughput.py's "relay alone"), so what is timed is the relay's own work in the database.

    .venv/bin/python -m benchmarks.drain [--sizes 1000,10000,100000] [--batch 10]
    .venv/bin/python -m benchmarks.drain --postgres [--sizes 100000] [--relays 4]

The backlog is PaymentCaptured events (one subscriber, orders, so one delivery an event) in the
payments database, seeded in bulk (benchmarks/seeding.py): the events and their PENDING
deliveries, due in the past (spread over the last hour, in order). Each drain runs in a relay
process of its own, started after the seeding, with the relay of this deployment (built from
settings) and the accepting transport in place of its own: when the process is ready (Django
set up, its database opened), it is told to go and calls `Relay.sweep` until a sweep handles
nothing and nothing is due; that loop is timed. Its peak RSS (VmHWM, reset when ready through
/proc/self/clear_refs) is reported over its RSS when ready. Afterwards every delivery must be
DELIVERED after one attempt, and the transport must have accepted each event once: each relay
process writes the ids it accepted to a file, counted here.

On SQLite (the default) each size is drained by one relay; small sizes several times (--rounds),
the median counted. --postgres starts a throwaway PostgreSQL cluster (as .ci/with-postgres
does; stopped by PID at the end) for the payments database and drains the same backlog with one
relay and with --relays relay processes at once.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from benchmarks.harness import (
    ROOT,
    goal,
    load_average,
    machine,
    set_up_django,
)

DESCRIPTION = "How fast one relay (or several) drains a backlog of committed events."
PUBLISHER = "payments"
EVENT = "PaymentCaptured"
GOAL_RATE = 10_000  # events/s
GOAL_LINEARITY = 1.3  # largest / (ratio of sizes x smallest)
GOAL_RSS_MB = 50.0
GOAL_SPEEDUP = 2.5
SEED = 7


@dataclass
class Drain:
    """One drain by one or more relay processes."""

    size: int
    relays: int
    seconds: float
    accepted: int
    duplicates: int
    lost: int
    idle_mb: float
    peak_mb: float  # over idle, the largest of the processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--sizes", help="backlogs (1000,10000,100000; --postgres: 100000)")
    parser.add_argument("--rounds", type=int, help="drains a size; median (5 for 1k, 3 10k, 1)")
    parser.add_argument("--batch", type=int, default=10, help="transport's batch_size (10)")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, 1 and N relays")
    parser.add_argument("--relays", type=int, default=4, help="relays at once, --postgres (4)")
    parser.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--var", help=argparse.SUPPRESS)
    parser.add_argument("--accepted", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.relay:
        return _relay_process(args)
    default = "100000" if args.postgres else "1000,10000,100000"
    try:
        sizes = sorted({int(size) for size in (args.sizes or default).split(",")})
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas, e.g. 1000,10000")
    if sizes[0] < 1 or args.batch < 1 or args.relays < 2:
        parser.error("sizes and --batch must be at least 1, --relays at least 2")

    started, load = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="modulith-bench-drain-") as workdir:
        if args.postgres:
            from benchmarks.postgres import cluster

            with cluster([PUBLISHER]) as base:
                url = f"{base}/{PUBLISHER}"
                drains = _run(Path(workdir), sizes, args, url)
        else:
            drains = _run(Path(workdir), sizes, args, None)
    elapsed = time.perf_counter() - started
    table = _postgres_table if args.postgres else _sqlite_table
    print(table(drains, args, elapsed, (load, load_average())))
    return 0


# --- the parent: seeds, starts relays, checks ---------------------------------------------------


def _run(
    workdir: Path, sizes: list[int], args: argparse.Namespace, url: str | None
) -> list[list[Drain]]:
    var = workdir / "var"
    overrides = {f"{PUBLISHER.upper()}_DATABASE_URL": url} if url else {}
    set_up_django(var, overrides=overrides)
    results: list[list[Drain]] = []
    for size in sizes:
        if url:
            plan = [1, args.relays]
        else:
            plan = [1] * (args.rounds or (5 if size <= 1000 else 3 if size <= 10_000 else 1))
        drains = []
        for relays in plan:
            seeded = _seed_backlog(size)
            drain = _drain(workdir, var, size, relays, args.batch, url)
            _check(drain, seeded)
            drains.append(drain)
            _empty_outbox()
            print(
                f"{size} events, {relays} relay(s): {drain.seconds:.2f} s, "
                f"{size / drain.seconds:.0f} events/s, peak +{drain.peak_mb:.1f} MB",
                file=sys.stderr,
                flush=True,
            )
        results.append(drains)
    return results


def _seed_backlog(size: int) -> set[str]:
    """`size` PaymentCaptured events with their PENDING deliveries, due in the past; returns
    the events' ids as the transport will see them."""
    from benchmarks.seeding import Seeder, ago, spread
    from contracts.payments import PaymentCaptured
    from modulith.bus import Envelope
    from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
    from modulith.runtime import runtime

    topology = runtime().topology
    placeholder = UUID(int=0)
    envelope = Envelope(
        event_id=placeholder,
        event_name=EVENT,
        source=topology.publisher_of(EVENT).source,
        occurred_at=datetime.now(UTC),
        schema_version=PaymentCaptured.schema_version,
        data=PaymentCaptured(
            order_id=UUID(int=SEED),
            payment_id=UUID(int=SEED + 1),
            amount=Decimal("10.00"),
            currency="EUR",
        ).model_dump(mode="json", by_alias=True),
        trace={"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"},
    )
    wire = json.dumps(envelope.to_wire()).split(str(placeholder))
    (route,) = [module.name for module in topology.subscribers_of(EVENT)]
    with Seeder(PUBLISHER) as seeder:
        moment = spread(ago(hours=1), ago(seconds=1), size)
        at = [seeder.time(moment(index)) for index in range(size)]
        ids = Seeder.ids(SEED << 64, 0, size)
        dashed = [Seeder.dashed(event_id) for event_id in ids]
        seeder.insert(
            OutboxEvent,
            size,
            {
                "id": ids,
                "event_name": EVENT,
                "source": envelope.source,
                "occurred_at": at,
                "trace_id": "a" * 32,
                "wire": [event_id.join(wire) for event_id in dashed],
                "created_at": at,
            },
        )
        seeder.insert(
            Delivery,
            size,
            {
                "event_id": ids,
                "route": route,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": at,
                "claimed_by": "",
                "claimed_until": None,
                "last_error": "",
                "delivered_at": None,
                "dead_at": None,
                "updated_at": at,
            },
        )
    return set(dashed)


def _drain(workdir: Path, var: Path, size: int, relays: int, batch: int, url: str | None) -> Drain:
    """Starts `relays` relay processes, tells them to go once all are ready, collects."""
    command = [sys.executable, "-m", "benchmarks.drain", "--relay", "--var", str(var)]
    command += ["--batch", str(batch)] + (["--database-url", url] if url else [])
    files = [workdir / f"accepted-{size}-{relays}-{n}.txt" for n in range(relays)]
    processes = [
        subprocess.Popen(
            [*command, "--accepted", str(path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    try:
        for process in processes:
            _expect(process, "ready")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = [json.loads(_expect(process, "{")) for process in processes]
        for process in processes:
            process.wait(timeout=60)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    counts = collections.Counter(
        line.strip() for path in files for line in path.read_text().splitlines()
    )
    return Drain(
        size=size,
        relays=relays,
        seconds=max(r["ended"] for r in reports) - min(r["started"] for r in reports),
        accepted=sum(counts.values()),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        lost=sum(r["lost"] for r in reports),
        idle_mb=max(r["idle_kb"] for r in reports) / 1024,
        peak_mb=max(r["peak_kb"] - r["idle_kb"] for r in reports) / 1024,
    )


def _expect(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(prefix):
        process.kill()
        raise RuntimeError(f"a relay process said {line!r} (exit {process.wait()}), not {prefix}")
    return line


def _check(drain: Drain, seeded: set[str]) -> None:
    """Every delivery DELIVERED after one attempt; every event accepted, none twice."""
    from django.db.models import Count, Sum

    from modulith.database.store.models import Delivery

    outcome = dict(
        Delivery.objects.using(PUBLISHER)
        .values_list("status")
        .annotate(Count("id"))
        .values_list("status", "id__count")
    )
    attempts = Delivery.objects.using(PUBLISHER).aggregate(n=Sum("attempts"))["n"]
    if outcome != {"DELIVERED": drain.size} or attempts != drain.size:
        raise RuntimeError(f"after the drain: {outcome}, {attempts} attempts for {drain.size}")
    if drain.accepted - drain.duplicates != len(seeded):
        raise RuntimeError(f"the transport accepted {drain.accepted} of {len(seeded)} events")


def _empty_outbox() -> None:
    from django.db import connections

    from modulith.database.store.models import Delivery, OutboxEvent

    connection = connections[PUBLISHER]
    with connection.cursor() as cursor:
        for model in (Delivery, OutboxEvent):  # deliveries first: they refer to their events
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
    connection.close()


# --- a relay process -----------------------------------------------------------------------------


class AcceptingTransport:
    """Accepts every event at once and sends nothing; writes each id it accepts to `sink`."""

    name = "none"
    max_batch_bytes = 256 * 1024  # SQS's and EventBridge's limit for one call

    def __init__(self, batch_size: int, sink: IO[str]) -> None:
        self.batch_size = batch_size
        self.sink = sink

    def routes(self, event_name: str) -> list[str]:
        return ["orders"]

    def send(self, route: str, envelopes: Sequence[Any], **options: Any) -> list[Any]:
        from modulith.transports.transport import DELIVERED

        self.sink.write("".join(f"{envelope.event_id}\n" for envelope in envelopes))
        return [DELIVERED] * len(envelopes)


def _relay_process(args: argparse.Namespace) -> int:
    url = args.database_url
    overrides = {f"{PUBLISHER.upper()}_DATABASE_URL": url} if url else {}
    set_up_django(Path(args.var), overrides=overrides, migrate=False)
    from django.db.models import Q
    from django.db.models.functions import Now

    from modulith.database.store.models import Delivery, DeliveryStatus
    from modulith.outbox.outcomes import RelayReport
    from modulith.runtime import runtime

    relay = runtime().relay
    due = Delivery.objects.using(PUBLISHER).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=Now()),
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=Now(),
    )
    with Path(args.accepted).open("w") as sink:
        relay.transport = AcceptingTransport(args.batch, sink)
        due.exists()  # the connection is open, the query compiled once
        gc.collect()
        idle = _reset_peak()
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 1
        total = RelayReport()
        started = time.monotonic()
        while True:
            report = relay.sweep([PUBLISHER])
            total.add(report)
            if not report.handled and not due.exists():
                break
        ended = time.monotonic()
    peak = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "started": started,
                "ended": ended,
                "delivered": total.delivered,
                "lost": total.lost,
                "idle_kb": idle,
                "peak_kb": peak,
            }
        ),
        flush=True,
    )
    return 0


def _reset_peak() -> int:
    """Resets this process's peak RSS to its RSS now (Linux), and returns that."""
    with contextlib.suppress(OSError):  # if not, the peak includes Django's set-up
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


# --- the tables ---------------------------------------------------------------------------------


def _sqlite_table(
    results: list[list[Drain]], args: argparse.Namespace, elapsed: float, load: tuple[float, float]
) -> str:
    lines = [
        f"One relay process a drain, SQLite, transport batch_size {args.batch}; a size drained "
        f"more than once counts its median. {machine(elapsed, load)}",
        "",
        "| backlog | drains | seconds | events/s | ms per 1k events | peak RSS over idle MB "
        "| idle RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    medians = []
    for drains in results:
        size = drains[0].size
        seconds = statistics.median(d.seconds for d in drains)
        medians.append((size, seconds))
        lines.append(
            f"| {size:,} | {len(drains)} | {seconds:.2f} | {size / seconds:,.0f} "
            f"| {seconds / size * 1e6:.1f} | {max(d.peak_mb for d in drains):.1f} "
            f"| {max(d.idle_mb for d in drains):.1f} |"
        )
    (small, small_s), (large, large_s) = medians[0], medians[-1]
    linearity = large_s / (large / small * small_s)
    rate = large / large_s
    peak = max(d.peak_mb for drains in results for d in drains)
    lines += [
        "",
        f"Linearity: {large:,} events took {linearity:.2f}x {large // small} times "
        f"the {small:,} events' time.",
        "",
        goal(f">= {GOAL_RATE:,} events/s at {large:,} (now {rate:,.0f})", rate >= GOAL_RATE),
        goal(
            f"{large:,} within {GOAL_LINEARITY}x of {large // small} x the {small:,} time "
            f"(now {linearity:.2f}x)",
            linearity <= GOAL_LINEARITY,
        ),
        goal(f"peak RSS <= {GOAL_RSS_MB:.0f} MB over idle (now {peak:.1f})", peak <= GOAL_RSS_MB),
    ]
    return "\n".join(lines)


def _postgres_table(
    results: list[list[Drain]], args: argparse.Namespace, elapsed: float, load: tuple[float, float]
) -> str:
    lines = [
        f"PostgreSQL (a throwaway cluster, fsync off), transport batch_size {args.batch}; the "
        f"relay processes start together; seconds from the first start to the last finish. "
        f"{machine(elapsed, load)}",
        "",
        "| backlog | relay processes | seconds | events/s | speed-up | accepted | accepted twice "
        "| claims lost | peak RSS over idle MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for drains in results:
        one = drains[0]
        for drain in drains:
            lines.append(
                f"| {drain.size:,} | {drain.relays} | {drain.seconds:.2f} "
                f"| {drain.size / drain.seconds:,.0f} | {one.seconds / drain.seconds:.2f}x "
                f"| {drain.accepted:,} | {drain.duplicates} | {drain.lost} "
                f"| {drain.peak_mb:.1f} |"
            )
        many = drains[-1]
        speedup = one.seconds / many.seconds
        verdicts += [
            goal(
                f"{many.relays} relays >= {GOAL_SPEEDUP}x one at {many.size:,} "
                f"(now {speedup:.2f}x)",
                speedup >= GOAL_SPEEDUP,
            ),
            goal(
                f"no event accepted twice (now {sum(d.duplicates for d in drains)})",
                not any(d.duplicates for d in drains),
            ),
        ]
    return "\n".join([*lines, "", *verdicts])


if __name__ == "__main__":
    sys.exit(main())
