"""What the bus costs the order saga: the saga through the bus (outbox, relay, in-process
transport, inbox), with deliveries inline and on the delivery threads, against the same business
work as plain function calls, in the same run.

    .venv/bin/python -m benchmarks.bus_overhead [--sagas 300] [--warmup 20]
    .venv/bin/python -m benchmarks.bus_overhead --profile [--sagas 300] [--top 25]

Its own SQLite module databases in a temporary directory (MODULITH_VAR_DIR, migrate_modules),
DEBUG off, INFO logging off, no embedded relay. The three paths take turns, one saga each, so
that a change of the machine's load falls on all three alike; sagas never overlap. Through the
bus, a saga is `order_place` (the service behind POST /api/orders) and what the bus makes of
it; plain, it is the five steps called one after the other (benchmarks/saga.py). A saga ends
when inventory's commit of the stock (its last write, after the order is CONFIRMED) commits.

It also prints the median CPU time of the saga's own thread, plain and inline, which the
machine's load sways far less than the wall clock.

--profile runs the inline saga alone under cProfile (after the warm-up) and prints the top
functions by cumulative time, then by own time, instead of the table.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from benchmarks.harness import (
    goal,
    load_average,
    machine,
    ms,
    percentiles,
    ratio,
    set_up_django,
)

if TYPE_CHECKING:
    from benchmarks.saga import Sample, StatementCounter

DESCRIPTION = "What the bus costs the order saga, against plain function calls."
PLAIN = "plain calls"
INLINE = "bus, inline"
THREAD = "bus, thread"
PATHS = (PLAIN, INLINE, THREAD)
GOALS = {INLINE: 1.3, THREAD: 1.4}  # bus / plain at p50, the saga's end


@dataclass
class SagaPath:
    """One way of running the saga, and its samples."""

    name: str
    saga: Callable[[], UUID]
    runtime: Any
    threaded: bool
    samples: list[Sample] = field(default_factory=list)
    statements: int = 0
    # This thread's CPU seconds a saga: what load on the machine sways least (the thread
    # path's work is on other threads, so only the plain and inline paths have one).
    cpu: list[float] = field(default_factory=list)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--sagas", type=int, default=300, help="timed sagas a path (300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sagas a path first (20)")
    parser.add_argument("--profile", action="store_true", help="cProfile the inline saga")
    parser.add_argument("--top", type=int, default=25, help="functions --profile prints (25)")
    args = parser.parse_args(argv)
    if args.sagas < 2 or args.warmup < 1:
        parser.error("--sagas must be at least 2 and --warmup at least 1")

    started, load = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="modulith-bench-bus-") as workdir:
        set_up_django(Path(workdir) / "var")
        from benchmarks.saga import StatementCounter, stock

        counter = StatementCounter()  # before any delivery thread opens a connection
        paths = saga_paths()

        stock(len(PATHS) * (args.warmup + args.sagas + 1))
        if args.profile:
            _profile(paths[INLINE], args.warmup, args.sagas, args.top)
            return 0
        _measure(paths, args.warmup, args.sagas)
        _count_statements(paths, counter)
    elapsed = time.perf_counter() - started
    print(_table(paths, args, elapsed, (load, load_average())))
    return 0


def saga_paths() -> dict[str, SagaPath]:
    """The plain path and the bus with each executor, each a runtime built the way the
    framework builds it from MODULITH_ASYNC_HANDLERS."""
    from django.conf import settings

    from benchmarks.saga import bus_saga, plain_saga
    from modulith.runtime.bootstrap import build_runtime

    runtimes = {}
    for mode in ("inline", "thread"):
        settings.MODULITH_ASYNC_HANDLERS = mode
        runtimes[mode] = build_runtime()
    return {
        PLAIN: SagaPath(PLAIN, plain_saga, runtimes["inline"], threaded=False),
        INLINE: SagaPath(INLINE, bus_saga, runtimes["inline"], threaded=False),
        THREAD: SagaPath(THREAD, bus_saga, runtimes["thread"], threaded=True),
    }


def _measure(paths: dict[str, SagaPath], warmup: int, sagas: int) -> None:
    from benchmarks.saga import SagaClock, run_one
    from modulith.runtime import install

    with SagaClock().connected() as clock:
        for index in range(warmup + sagas):
            for path in paths.values():
                install(path.runtime)
                cpu = time.thread_time()
                sample = run_one(clock, path.saga, threaded=path.threaded)
                if index >= warmup:
                    path.samples.append(sample)
                    path.cpu.append(time.thread_time() - cpu)
            if index >= warmup and (index - warmup + 1) % 50 == 0:
                print(f"{index - warmup + 1} sagas a path", file=sys.stderr, flush=True)


def _count_statements(paths: dict[str, SagaPath], counter: StatementCounter) -> None:
    """One more saga a path, untimed, counting its SQL statements."""
    from benchmarks.saga import SagaClock, count_statements
    from modulith.runtime import install

    with SagaClock().connected() as clock:
        for path in paths.values():
            install(path.runtime)
            path.statements = count_statements(counter, clock, path.saga, threaded=path.threaded)


def _profile(path: SagaPath, warmup: int, sagas: int, top: int) -> None:
    from benchmarks.saga import SagaClock, run_one
    from modulith.runtime import install

    install(path.runtime)
    with SagaClock().connected() as clock:
        for _ in range(warmup):
            run_one(clock, path.saga, threaded=False)
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        for _ in range(sagas):
            run_one(clock, path.saga, threaded=False)
        profile.disable()
        elapsed = time.perf_counter() - started
    print(
        f"{sagas} inline sagas under cProfile after {warmup} untimed: {elapsed:.1f} s, "
        f"{ms(elapsed / sagas)} ms a saga (profiled); top {top} by cumulative time:\n"
    )
    stats = pstats.Stats(profile, stream=sys.stdout).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    print(f"The same profile, top {top} by own time (tottime):\n")
    stats.sort_stats("tottime").print_stats(top)


def _table(
    paths: dict[str, SagaPath], args: argparse.Namespace, elapsed: float, load: tuple[float, float]
) -> str:
    plain = paths[PLAIN]
    plain50, plain99 = percentiles([s.ended for s in plain.samples])
    lines = [
        f"{args.sagas} sagas a path after {args.warmup} untimed, the paths taking turns; "
        f"milliseconds from the first call to the saga's last commit. "
        f"{machine(elapsed, load)}",
        "",
        "| path | sagas | p50 ms | p99 ms | p50 / plain | p99 / plain "
        "| to CONFIRMED p50 ms | first call returns p50 ms | SQL statements a saga |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for path in paths.values():
        p50, p99 = percentiles([s.ended for s in path.samples])
        confirmed, _ = percentiles([s.confirmed for s in path.samples])
        returned, _ = percentiles([s.returned for s in path.samples])
        lines.append(
            f"| {path.name} | {len(path.samples)} | {ms(p50)} | {ms(p99)} "
            f"| {ratio(p50, plain50)} | {ratio(p99, plain99)} | {ms(confirmed)} "
            f"| {ms(returned)} | {path.statements} |"
        )
    plain_cpu, inline_cpu = (statistics.median(paths[name].cpu) for name in (PLAIN, INLINE))
    lines += [
        "",
        f"CPU time of the saga's thread, median: plain {ms(plain_cpu)} ms, inline "
        f"{ms(inline_cpu)} ms: {ratio(inline_cpu, plain_cpu)} (the bus's own "
        f"{ms(inline_cpu - plain_cpu)} ms; with the recording of outcomes after the saga's end)",
    ]
    lines.append("")
    for name, limit in GOALS.items():
        p50, _ = percentiles([s.ended for s in paths[name].samples])
        lines.append(
            goal(
                f"{name} / plain at p50 <= {limit}x (now {p50 / plain50:.2f}x)",
                p50 / plain50 <= limit,
            )
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
