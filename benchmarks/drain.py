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
relay and with --relays relay processes at once, --rounds times (alternating, median counted).
It reports how well the relays scale out in a form two cores can show: the CPU seconds of the
relays' sweeps per 1,000 events (each process's own user and system time, `getrusage`, summed),
four relays against one; and whether a relay sat idle while deliveries were due: the time a
relay spent in sweeps that claimed nothing although deliveries were still due when the sweep
ended (it sweeps again then; it stops once nothing is due, because the rest is claimed by
others), which must stay within IDLE_SHARE of the drain's span (from the go to the last send).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import os
import resource
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
GOAL_CPU_RATIO = 1.15  # CPU seconds per 1k events, N relays / one
IDLE_SHARE = 0.01  # of the drain's span, a relay's time in empty sweeps while some were due
SEED = 7


@dataclass
class RelayRun:
    """What one relay process did in a drain (times on the shared monotonic clock)."""

    accepted: int
    started: float  # told to go
    first_send: float
    last_send: float
    idle: float  # seconds in sweeps that claimed nothing while deliveries were due
    empty_sweeps: list[float]  # when those sweeps started
    cpu: float  # user + system seconds of its sweeps
    server_cpu: float | None  # of its PostgreSQL backend, when readable


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
    runs: list[RelayRun]

    @property
    def cpu_per_1k(self) -> float:
        return sum(r.cpu for r in self.runs) / self.size * 1000

    @property
    def server_cpu_per_1k(self) -> float | None:
        server = [r.server_cpu for r in self.runs]
        if any(cpu is None for cpu in server):
            return None
        return sum(cpu or 0.0 for cpu in server) / self.size * 1000

    @property
    def span(self) -> float:
        """From the first go to the last send of any relay: while deliveries were due."""
        return max(r.last_send for r in self.runs) - min(r.started for r in self.runs)

    @property
    def longest_idle(self) -> float:
        return max(r.idle for r in self.runs)

    @property
    def empty_sweeps(self) -> str:
        """How many sweeps claimed nothing while some were due, and when the first of them came
        (in the span: near 100%, the last deliveries were being claimed by the others)."""
        empty = sorted(at for r in self.runs for at in r.empty_sweeps)
        if not empty:
            return "0"
        first = (empty[0] - min(r.started for r in self.runs)) / self.span
        return f"{len(empty)}, the first at {first:.0%}"

    @property
    def shortest_active(self) -> float:
        """The smallest share of the span that a relay spent between its first and last send."""
        return min(r.last_send - r.first_send for r in self.runs) / self.span

    @property
    def shares(self) -> list[float]:
        return sorted(r.accepted / self.size for r in self.runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--sizes", help="backlogs (1000,10000,100000; --postgres: 100000)")
    parser.add_argument(
        "--rounds", type=int, help="drains a size (5 for 1k, 3 10k, 1; --postgres: 1 and N, 1)"
    )
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
    if sizes[0] < 1 or args.batch < 1 or args.relays < 2 or (args.rounds or 1) < 1:
        parser.error("sizes, --batch and --rounds must be at least 1, --relays at least 2")

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
            plan = [1, args.relays] * (args.rounds or 1)
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
                f"{size / drain.seconds:.0f} events/s, {drain.cpu_per_1k:.3f} CPU s per 1k, "
                f"longest idle {drain.longest_idle:.2f} s, peak +{drain.peak_mb:.1f} MB",
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
        runs=[
            RelayRun(
                accepted=sum(1 for _ in path.open()),
                started=r["started"],
                first_send=r["first_send"],
                last_send=r["last_send"],
                idle=r["idle"],
                empty_sweeps=r["empty_sweeps"],
                cpu=r["cpu"],
                server_cpu=r["server_cpu"],
            )
            for path, r in zip(files, reports, strict=True)
        ],
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
    """Accepts every event at once and sends nothing; writes each id it accepts to `sink` and
    notes when each call came (`time.monotonic`)."""

    name = "none"
    max_batch_bytes = 256 * 1024  # SQS's and EventBridge's limit for one call

    def __init__(self, batch_size: int, sink: IO[str]) -> None:
        self.batch_size = batch_size
        self.sink = sink
        self.sent_at: list[float] = []

    def routes(self, event_name: str) -> list[str]:
        return ["orders"]

    def send(self, route: str, envelopes: Sequence[Any], **options: Any) -> list[Any]:
        from modulith.transports.transport import DELIVERED

        self.sent_at.append(time.monotonic())
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
        transport = AcceptingTransport(args.batch, sink)
        relay.transport = transport
        due.exists()  # the connection is open, the query compiled once
        backend = _backend_pid()
        gc.collect()
        idle = _reset_peak()
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 1
        total = RelayReport()
        idle_seconds, empty_sweeps = 0.0, []
        started, cpu, server_cpu = time.monotonic(), _cpu_seconds(), _process_cpu(backend)
        while True:
            sweep_started = time.monotonic()
            report = relay.sweep([PUBLISHER])
            total.add(report)
            if not report.handled:
                if not due.exists():
                    break
                idle_seconds += time.monotonic() - sweep_started
                empty_sweeps.append(sweep_started)
        ended, cpu, server_cpu = (
            time.monotonic(),
            _cpu_seconds() - cpu,
            _minus(_process_cpu(backend), server_cpu),
        )
    peak = _status_kb("VmHWM")
    sent = transport.sent_at or [ended]
    print(
        json.dumps(
            {
                "started": started,
                "ended": ended,
                "delivered": total.delivered,
                "lost": total.lost,
                "idle_kb": idle,
                "peak_kb": peak,
                "cpu": cpu,
                "server_cpu": server_cpu,
                "first_send": sent[0],
                "last_send": sent[-1],
                "idle": idle_seconds,
                "empty_sweeps": empty_sweeps,
            }
        ),
        flush=True,
    )
    return 0


def _cpu_seconds() -> float:
    """This process's own user and system CPU time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backend_pid() -> int | None:
    """The PID of this process's PostgreSQL backend (the server runs on this machine), or None
    on SQLite."""
    from django.db import connections

    connection = connections[PUBLISHER]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _process_cpu(pid: int | None) -> float | None:
    """User and system CPU seconds of another process of this machine, from /proc (fields 14
    and 15 of its stat, in clock ticks), or None if it cannot be read."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _minus(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


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
        f"relay processes start together; seconds from the first start to the last finish; CPU "
        f"seconds are the relays' own (user + system, their sweeps, summed), and their "
        f"server backends' beside them. {machine(elapsed, load)}",
        "",
        "| backlog | relay processes | seconds | events/s | relay CPU s per 1k events "
        "| server CPU s per 1k events | accepted | accepted twice | claims lost "
        "| shares of the events | shortest active span | empty sweeps while due "
        "| longest idle s (% of span) | peak RSS over idle MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    verdicts = []
    for drains in results:
        for drain in drains:
            server = drain.server_cpu_per_1k
            shares = " / ".join(f"{share:.0%}" for share in drain.shares)
            lines.append(
                f"| {drain.size:,} | {drain.relays} | {drain.seconds:.2f} "
                f"| {drain.size / drain.seconds:,.0f} | {drain.cpu_per_1k:.3f} "
                f"| {'n/a' if server is None else f'{server:.3f}'} "
                f"| {drain.accepted:,} | {drain.duplicates} | {drain.lost} | {shares} "
                f"| {drain.shortest_active:.0%} | {drain.empty_sweeps} "
                f"| {drain.longest_idle:.2f} ({drain.longest_idle / drain.span:.1%}) "
                f"| {drain.peak_mb:.1f} |"
            )
        one = [d for d in drains if d.relays == 1]
        many = [d for d in drains if d.relays > 1]
        cpu_one = statistics.median(d.cpu_per_1k for d in one)
        cpu_many = statistics.median(d.cpu_per_1k for d in many)
        speedup = statistics.median(d.seconds for d in one) / statistics.median(
            d.seconds for d in many
        )
        idle = max(drains, key=lambda d: d.longest_idle / d.span)
        relays, size = many[0].relays, many[0].size
        rounds = f"median of {len(one)} drains each" if len(one) > 1 else "one drain each"
        verdicts += [
            f"At {size:,}, {rounds}: one relay {cpu_one:.3f} and {relays} relays "
            f"{cpu_many:.3f} CPU seconds per 1,000 events; wall-clock speed-up {speedup:.2f}x "
            f"(on {os.cpu_count()} CPUs shared with the server, not a goal).",
            "",
            goal(
                f"{relays} relays' CPU seconds per 1k events <= {GOAL_CPU_RATIO}x one relay's "
                f"at {size:,} (now {cpu_many / cpu_one:.2f}x)",
                cpu_many / cpu_one <= GOAL_CPU_RATIO,
            ),
            goal(
                f"no event accepted twice (now {sum(d.duplicates for d in drains)})",
                not any(d.duplicates for d in drains),
            ),
            goal(
                f"no relay idle while deliveries were due: each relay's time in sweeps that "
                f"claimed nothing while some were due <= {IDLE_SHARE:.0%} of the span (now "
                f"{idle.longest_idle:.2f} s, {idle.longest_idle / idle.span:.1%}, with "
                f"{idle.relays} relay(s))",
                idle.longest_idle <= IDLE_SHARE * idle.span,
            ),
        ]
    return "\n".join([*lines, "", *verdicts])


if __name__ == "__main__":
    sys.exit(main())
