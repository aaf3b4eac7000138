"""Whether the bus slows down as its history grows: the order saga's p50 and p99 with 0, 100k
and 1M already-delivered events in every module database, and (--retention) whether the
outbox stays bounded under sustained load.

    .venv/bin/python -m benchmarks.history [--levels 0,100000,1000000] [--sagas 100]
    .venv/bin/python -m benchmarks.history --retention 10 [--duration 60] [--every 5]

Its own SQLite module databases in a temporary directory (MODULITH_VAR_DIR, migrate_modules),
DEBUG off, INFO logging off. A few untimed sagas first give the history its rows: every module
database is then seeded, in bulk, with copies of the rows those sagas left in it (its outbox
events with their DELIVERED deliveries, its inbox records), new ids for each, spread over the
last day (inside any retention of a day or more), so that a level of N means N delivered events
in the outbox of each module database and N records in its inbox. Levels are seeded one on top
of the other, in ascending order. At each level: untimed sagas, then the timed ones (inline
deliveries unless --mode thread; a saga ends with inventory's commit of the stock, as in
bus_overhead.py). No sweep runs meanwhile, so the rows stay; the table shows them counted after
each level.

--retention SECONDS runs sagas for --duration seconds with MODULITH_OUTBOX_RETENTION=SECONDS
and the embedded relay sweeping (purging) every MODULITH_RELAY_INTERVAL, as the web process
does, and prints the outbox's row counts every --every seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.harness import (
    MODULES,
    goal,
    load_average,
    machine,
    ms,
    percentiles,
    ratio,
    set_up_django,
)

if TYPE_CHECKING:
    from benchmarks.saga import SagaClock
    from benchmarks.seeding import Seeder
    from modulith.conf import ModulithSettings

DESCRIPTION = "The order saga's latency as the outbox's and the inbox's history grows."
GOAL = 1.2  # p50 at the largest level over p50 at the smallest
HISTORY_HOURS = (24.0, 1.0)  # seeded rows are spread from 24 h ago to 1 h ago
SEED_CHUNK = 50_000  # rows a transaction


@dataclass
class Level:
    events: int
    seconds_to_seed: float = 0.0
    samples: list[float] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EventTemplate:
    """An event a saga left in a module's outbox, and the route of its delivery."""

    event_name: str
    source: str
    trace_id: str
    wire: list[str]  # the wire's JSON split around its event id
    route: str


@dataclass(frozen=True)
class InboxTemplate:
    subscriber: str
    handler: str
    event_name: str


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--levels", default="0,100000,1000000", help="events a module database")
    parser.add_argument("--sagas", type=int, default=100, help="timed sagas a level (100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed sagas a level (10)")
    parser.add_argument("--mode", choices=["inline", "thread"], default="inline")
    parser.add_argument("--seed", type=int, default=1, help="of the seeded ids (1)")
    parser.add_argument("--retention", type=float, help="seconds: the sustained-load mode")
    parser.add_argument("--duration", type=float, default=60.0, help="of --retention (60 s)")
    parser.add_argument("--every", type=float, default=5.0, help="--retention's samples (5 s)")
    args = parser.parse_args(argv)
    try:
        levels = sorted({int(level) for level in args.levels.split(",")})
    except ValueError:
        parser.error("--levels takes whole numbers separated by commas, e.g. 0,100000,1000000")
    if args.sagas < 2 or args.warmup < 1 or levels[0] < 0:
        parser.error("--sagas must be at least 2, --warmup at least 1, levels at least 0")

    started, load = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="modulith-bench-history-") as workdir:
        var = Path(workdir) / "var"
        if args.retention is not None:
            text = _retention(var, args)
            elapsed = time.perf_counter() - started
            print(f"{text}\n\n{machine(elapsed, (load, load_average()))}")
            return 0
        set_up_django(var, async_handlers=args.mode)
        results = _levels(levels, args)
    elapsed = time.perf_counter() - started
    print(_table(results, args, elapsed, (load, load_average())))
    return 0


# --- the levels -----------------------------------------------------------------------------


def _levels(levels: list[int], args: argparse.Namespace) -> list[Level]:
    from benchmarks.saga import SagaClock, bus_saga, run_one, stock

    stock((len(levels) + 1) * (args.warmup + args.sagas) + args.warmup)
    threaded = args.mode == "thread"
    rng = random.Random(args.seed)
    seeds = {(alias, kind): rng.getrandbits(128) for alias in MODULES for kind in ("o", "i")}
    results: list[Level] = []
    with SagaClock().connected() as clock:
        _untimed(clock, args.warmup, threaded)
        templates = {alias: _templates(alias) for alias in MODULES}
        seeded = 0
        for events in levels:
            level = Level(events)
            begun = time.perf_counter()
            for alias in MODULES:
                _seed(alias, templates[alias], seeds, seeded, events - seeded, levels[-1])
            level.seconds_to_seed = time.perf_counter() - begun
            seeded = events
            print(
                f"{events} events a database: seeded in {level.seconds_to_seed:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            _untimed(clock, args.warmup, threaded)
            level.samples = [
                run_one(clock, bus_saga, threaded=threaded).ended for _ in range(args.sagas)
            ]
            level.rows = _row_counts()
            results.append(level)
            p50, _ = percentiles(level.samples)
            print(f"  p50 {ms(p50)} ms", file=sys.stderr, flush=True)
    return results


def _untimed(clock: SagaClock, sagas: int, threaded: bool) -> None:
    from benchmarks.saga import bus_saga, run_one

    for _ in range(sagas):
        run_one(clock, bus_saga, threaded=threaded)


def _templates(alias: str) -> tuple[list[EventTemplate], list[InboxTemplate]]:
    """One of each kind of event in this module's outbox, one of each kind of inbox record."""
    from modulith.database.store.models import Delivery, InboxRecord, OutboxEvent

    events: dict[str, EventTemplate] = {}
    for event in OutboxEvent.objects.using(alias).order_by("created_at"):
        if event.event_name in events:
            continue
        routes = list(
            Delivery.objects.using(alias).filter(event_id=event.pk).values_list("route", flat=True)
        )
        if len(routes) != 1:
            raise RuntimeError(f"{event.event_name} has {len(routes)} deliveries; expected one")
        events[event.event_name] = EventTemplate(
            event_name=event.event_name,
            source=event.source,
            trace_id=event.trace_id,
            wire=json.dumps(event.wire).split(str(event.pk)),
            route=routes[0],
        )
    inbox = {
        (r.subscriber, r.handler, r.event_name): InboxTemplate(
            r.subscriber, r.handler, r.event_name
        )
        for r in InboxRecord.objects.using(alias).all()
    }
    if not events or not inbox:
        raise RuntimeError(f"the untimed sagas left no events or no inbox records in {alias}")
    return list(events.values()), sorted(inbox.values(), key=lambda t: t.event_name)


def _seed(
    alias: str,
    templates: tuple[list[EventTemplate], list[InboxTemplate]],
    seeds: dict[tuple[str, str], int],
    start: int,
    count: int,
    total: int,
) -> None:
    """Rows `start` to `start + count - 1` of this database's history, in chunks (so that the
    values of a million rows are never in memory at once)."""
    from benchmarks.seeding import Seeder, ago, spread

    moment = spread(ago(hours=HISTORY_HOURS[0]), ago(hours=HISTORY_HOURS[1]), total)
    with Seeder(alias, chunk=SEED_CHUNK) as seeder:
        for first in range(start, start + count, SEED_CHUNK):
            size = min(SEED_CHUNK, start + count - first)
            _seed_chunk(seeder, templates, seeds, alias, range(first, first + size), moment)


def _seed_chunk(
    seeder: Seeder,
    templates: tuple[list[EventTemplate], list[InboxTemplate]],
    seeds: dict[tuple[str, str], int],
    alias: str,
    rows: range,
    moment: Callable[[int], datetime],
) -> None:
    from benchmarks.seeding import Seeder
    from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent

    events, inbox = templates
    size = len(rows)
    at = [seeder.time(moment(index)) for index in rows]
    ids = Seeder.ids(seeds[alias, "o"], rows.start, size)
    kinds = [events[index % len(events)] for index in rows]
    seeder.insert(
        OutboxEvent,
        size,
        {
            "id": ids,
            "event_name": [kind.event_name for kind in kinds],
            "source": [kind.source for kind in kinds],
            "occurred_at": at,
            "trace_id": [kind.trace_id for kind in kinds],
            "wire": [Seeder.dashed(i).join(kind.wire) for i, kind in zip(ids, kinds, strict=True)],
            "created_at": at,
        },
    )
    seeder.insert(
        Delivery,
        size,
        {
            "event_id": ids,
            "route": [kind.route for kind in kinds],
            "status": DeliveryStatus.DELIVERED.value,
            "attempts": 1,
            "next_attempt_at": at,
            "claimed_by": "",
            "claimed_until": None,
            "last_error": "",
            "delivered_at": at,
            "dead_at": None,
            "updated_at": at,
        },
    )
    handled = [inbox[index % len(inbox)] for index in rows]
    values: dict[str, object] = {
        "event_id": Seeder.ids(seeds[alias, "i"], rows.start, size),
        "subscriber": [record.subscriber for record in handled],
        "event_name": [record.event_name for record in handled],
        "handled_at": at,
    }
    if "handler" in {f.column for f in InboxRecord._meta.concrete_fields}:
        values["handler"] = [record.handler for record in handled]
    seeder.insert(InboxRecord, size, values)


def _row_counts() -> dict[str, int]:
    from modulith.database.store.models import Delivery, InboxRecord, OutboxEvent

    return {
        name: sum(model.objects.using(alias).count() for alias in MODULES)
        for name, model in (
            ("events", OutboxEvent),
            ("deliveries", Delivery),
            ("inbox", InboxRecord),
        )
    }


def _table(
    results: list[Level], args: argparse.Namespace, elapsed: float, load: tuple[float, float]
) -> str:
    base50, base99 = percentiles(results[0].samples)
    lines = [
        f"{args.sagas} sagas a level ({args.mode} deliveries) after {args.warmup} untimed; "
        f"milliseconds from order_place to the saga's last commit. Rows are the sums over the "
        f"three module databases. {machine(elapsed, load)}",
        "",
        "| delivered events a module database | seeded in s | p50 ms | p99 ms "
        f"| p50 / at {results[0].events} | p99 / at {results[0].events} "
        "| outbox events | deliveries | inbox records |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in results:
        p50, p99 = percentiles(level.samples)
        lines.append(
            f"| {level.events:,} | {level.seconds_to_seed:.1f} | {ms(p50)} | {ms(p99)} "
            f"| {ratio(p50, base50)} | {ratio(p99, base99)} | {level.rows['events']:,} "
            f"| {level.rows['deliveries']:,} | {level.rows['inbox']:,} |"
        )
    top50, _ = percentiles(results[-1].samples)
    lines += [
        "",
        goal(
            f"p50 at {results[-1].events:,} <= {GOAL}x p50 at {results[0].events:,} "
            f"(now {top50 / base50:.2f}x)",
            top50 / base50 <= GOAL,
        ),
    ]
    return "\n".join(lines)


# --- sustained load with retention -------------------------------------------------------------


def _retention(var: Path, args: argparse.Namespace) -> str:
    set_up_django(
        var,
        async_handlers=args.mode,
        overrides={
            "MODULITH_OUTBOX_RETENTION": f"{args.retention:g}",
            "MODULITH_EMBEDDED_RELAY": "1",
        },
    )
    from benchmarks.saga import SagaClock, bus_saga, run_one, stock
    from modulith.conf import modulith_settings
    from modulith.outbox.embedded_relay import start_background_relay

    settings = modulith_settings()
    stock(1_000_000)
    threaded = args.mode == "thread"
    samples: list[tuple[float, int, dict[str, int]]] = []
    with SagaClock().connected() as clock:
        run_one(clock, bus_saga, threaded=threaded)  # before any sweep: what one saga stores
        per_saga = _row_counts()["events"]
        start_background_relay(settings.relay_interval)
        sagas, begun, next_sample = 1, time.perf_counter(), 0.0
        while (now := time.perf_counter() - begun) < args.duration:
            if now >= next_sample:
                samples.append((now, sagas, _row_counts()))
                print(f"{now:5.1f} s: {sagas} sagas, {samples[-1][2]}", file=sys.stderr)
                next_sample += args.every
            run_one(clock, bus_saga, threaded=threaded)
            sagas += 1
        samples.append((time.perf_counter() - begun, sagas, _row_counts()))
    return _retention_table(samples, args, settings, per_saga)


def _retention_table(
    samples: list[tuple[float, int, dict[str, int]]],
    args: argparse.Namespace,
    settings: ModulithSettings,
    per_saga: int,
) -> str:
    retention = settings.outbox_retention.total_seconds()
    inbox = settings.inbox_retention.total_seconds() / 86400
    interval = settings.relay_interval
    seconds, sagas, _ = samples[-1]
    rate = sagas * per_saga / seconds
    # Kept: the events of the last retention, and of up to an interval (or two, if a sweep
    # is slow) waiting for the next sweep's purge.
    window = retention + 2 * interval
    bound = rate * window
    settled = [rows["events"] for at, _, rows in samples if at >= window]
    lines = [
        f"Sagas ({args.mode} deliveries) one after the other for {args.duration:g} s "
        f"({sagas / seconds:.0f} sagas/s, {per_saga} events each) with "
        f"MODULITH_OUTBOX_RETENTION={retention:g} s, the embedded relay sweeping (and "
        f"purging) every {interval:g} s. Inbox records are kept MODULITH_INBOX_RETENTION="
        f"{inbox:g} days (never less than the redelivery window), so they grow. Rows are the "
        "sums over the three module databases.",
        "",
        "| seconds | sagas | outbox events | deliveries | inbox records |",
        "|---:|---:|---:|---:|---:|",
    ]
    for at, done, rows in samples:
        lines.append(
            f"| {at:.0f} | {done:,} | {rows['events']:,} | {rows['deliveries']:,} "
            f"| {rows['inbox']:,} |"
        )
    if not settled:
        return "\n".join([*lines, "", f"Run longer than {window:g} s to see the bound."])
    top = max(settled)
    lines += [
        "",
        goal(
            f"the outbox stays bounded: after {window:g} s, at most the events of the last "
            f"retention + 2 sweep intervals ({rate:.0f} events/s x {window:g} s = "
            f"{bound:,.0f}; now at most {top:,})",
            top <= bound,
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
