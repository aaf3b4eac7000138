"""What a relay costs while nothing is due: one sweep of the monolith's module databases that
finds nothing to deliver and nothing to purge, what `manage.py relay`, each web process's
embedded relay and the Lambda relay function do every interval when there is no work.

    .venv/bin/python -m benchmarks.idle_sweep [--sweeps 1000] [--repeat 5]

This process is the monolith (DEBUG off, SQLite module databases in a temporary directory, the
in-process transport); a few sagas run first, so that each database holds delivered events
(kept for the outbox's retention: nothing to purge) and inbox records. Timed, best of
`--repeat` runs of `--sweeps` sweeps each: `Relay.sweep` over the running databases, and its
baseline from the same run, the claims alone (the one statement a database a sweep cannot do
without). Printed: milliseconds a sweep, the ratio, and what an idle relay spends a second at
the default MODULITH_RELAY_INTERVAL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from benchmarks.harness import load_average, machine, ms, ratio, set_up_django

DESCRIPTION = "What a sweep costs when nothing is due, against its claims alone."
SAGAS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--sweeps", type=int, default=1000, help="sweeps a run (1000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs, the best counted (5)")
    args = parser.parse_args()
    loads = (load_average(), 0.0)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="modulith-bench-idle-") as var:
        set_up_django(Path(var))
        from modulith.runtime import runtime

        current = runtime()
        _run_sagas(SAGAS)
        databases = current.topology.running_databases
        relay = current.relay
        assert relay.sweep(databases).handled == 0, "a saga left work due"

        def sweep() -> None:
            relay.sweep(databases)

        def claims() -> None:
            for alias in databases:
                relay.claims.take(alias)

        sweeps = _best(sweep, args.sweeps, args.repeat)
        baseline = _best(claims, args.sweeps, args.repeat)
        interval = current.settings.relay_interval
        print(f"an idle sweep of {len(databases)} databases ({', '.join(databases)}):")
        print(
            f"  sweep {ms(sweeps)} ms, its claims alone {ms(baseline)} ms: "
            f"{ratio(sweeps, baseline)}"
        )
        print(
            f"  an idle relay at MODULITH_RELAY_INTERVAL={interval:g} spends "
            f"{sweeps / interval * 100:.2f}% of a core"
        )
    print(machine(time.monotonic() - started, (loads[0], load_average())))


def _run_sagas(count: int) -> None:
    """Orders placed and paid, each delivered inline: history in every module database."""
    from benchmarks.saga import bus_saga, stock

    stock(count)
    for _ in range(count):
        bus_saga()


def _best(work: Any, number: int, repeat: int) -> float:
    """Seconds a call, the best of `repeat` runs of `number` calls."""
    return min(timeit.repeat(work, number=number, repeat=repeat)) / number


if __name__ == "__main__":
    main()
