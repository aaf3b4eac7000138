"""A soak of the web role: the image's gunicorn (deploy/entrypoint.sh web, 2 workers, DEBUG off,
the in-process bus with its delivery threads and the embedded relay) under a steady stream of
orders, minute by minute: the server's own latency of POST /api/orders, read from its JSON
access lines, and the memory of its processes.

    .venv/bin/python -m benchmarks.soak                       # 3 minutes, 12 orders/s, ~3.5 min
    .venv/bin/python -m benchmarks.soak --minutes 12          # the long form, ~12.5 min
    .venv/bin/python -m benchmarks.soak --minutes 4 --tracemalloc

The server runs on 127.0.0.1 in a temporary directory (its SQLite module databases, its log),
started as the image starts it (migrations first, then gunicorn) with the settings production
sets: DEBUG off, a secret key and API keys of its own. One product is stocked for the whole
run; then orders of one unit each are sent at --rate a second for --minutes, from --clients
threads on a fixed schedule (a late order is sent at once, never in a burst to catch up), at
most minutes x 60 x rate of them. Afterwards everything started is stopped by PID.

Per minute of load: orders, the p50 and p99 of the server's own `duration_ms` for
POST /api/orders (from its access lines: what the server spent, not the client's queueing),
and the resident memory (VmRSS) of each worker at the minute's end. The goals printed: the
last minute's p99 within 1.2x of the second minute's (the first warms up), and the workers'
memory flat after the warm-up (the last minute's within 5 MB of the second's).

--tracemalloc has each worker trace its allocations (one frame) and write what grew between the
end of the first minute and the end of the run, by line, to the log directory; the top lines
are printed. Tracing slows the workers: read latencies from a run without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from benchmarks.colocation import clean_env, free_port, wait_ready
from benchmarks.harness import PRODUCTION, ROOT, goal, load_average, machine, percentiles

DESCRIPTION = "The web role under a steady stream of orders, minute by minute."
SKU = "SOAK-1"
GOAL_P99 = 1.2  # last minute's p99 over the second minute's
GOAL_RSS_MB = 5.0  # the workers' growth from the second minute's end to the last's
HEADERS = {"X-API-Key": PRODUCTION["MODULITH_API_KEYS"]}

# Loaded by gunicorn (--config) with --tracemalloc: each worker snapshots its allocations
# after the first minute and at the end (told by SIGUSR2 from this benchmark), and writes
# what grew between the two to the log directory.
TRACEMALLOC_CONFIG = """
import os, signal, tracemalloc

def post_worker_init(worker):
    tracemalloc.start(1)
    snapshots = []

    def snapshot(signum, frame):
        snapshots.append(tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]))
        if len(snapshots) == 2:
            growth = snapshots[1].compare_to(snapshots[0], "lineno")
            path = os.path.join(os.environ["SOAK_TRACE_DIR"], f"growth-{os.getpid()}.txt")
            with open(path, "w") as out:
                out.writelines(f"{stat}\\n" for stat in growth[:40])

    signal.signal(signal.SIGUSR2, snapshot)
"""


@dataclass
class Minute:
    orders: int = 0
    durations: list[float] = field(default_factory=list)  # ms, the server's own
    rss_mb: list[float] = field(default_factory=list)  # each worker's, at the minute's end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--minutes", type=int, default=3, help="minutes of load (3)")
    parser.add_argument("--rate", type=float, default=12.0, help="orders a second (12)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (4)")
    parser.add_argument("--tracemalloc", action="store_true", help="where the memory grows")
    args = parser.parse_args(argv)
    if args.minutes < 2 or args.rate <= 0 or args.workers < 1 or args.clients < 1:
        parser.error("--minutes at least 2, --rate above 0, --workers and --clients at least 1")

    started, load = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="modulith-bench-soak-") as temporary:
        directory = Path(temporary)
        with server(directory, args) as (url, master):
            minutes, errors = drive(url, master, args, directory)
        log = (directory / "web.log").read_text(errors="replace")
        growth = sorted(directory.glob("growth-*.txt"))
        read_durations(log, minutes, args)
        print(table(minutes, errors, args, time.perf_counter() - started, load))
        for path in growth:
            print(f"\nWhat grew in worker {path.stem[7:]} after the first minute (tracemalloc):")
            print("".join(path.read_text().splitlines(keepends=True)[:15]), end="")
    return 0


@contextlib.contextmanager
def server(directory: Path, args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    """The web role as the image starts it, on 127.0.0.1; stopped (its process group) by PID."""
    port = free_port()
    env = clean_env() | PRODUCTION
    env |= {
        "MODULITH_VAR_DIR": str(directory / "var"),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(args.workers),
        # Plain HTTP on the loopback: no proxy in front to terminate TLS.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "LOG_FORMAT": "json",
    }
    command = [str(ROOT / "deploy" / "entrypoint.sh"), "web"]
    if args.tracemalloc:
        config = directory / "tracemalloc.conf.py"
        config.write_text(TRACEMALLOC_CONFIG)
        command += ["--config", str(config)]
        env["SOAK_TRACE_DIR"] = str(directory)
    with (directory / "web.log").open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process)
        yield url, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def drive(
    url: str, master: int, args: argparse.Namespace, directory: Path
) -> tuple[list[Minute], list[str]]:
    """Orders at a steady rate, minute after minute; the workers' memory at each minute's
    end (and, with --tracemalloc, their snapshots after the first minute and at the end)."""
    total = int(args.minutes * 60 * args.rate)
    with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as api:
        product = {"sku": SKU, "name": "Soak", "unitPrice": "1.00", "currency": "EUR"}
        api.post("/api/inventory/products", json={**product, "quantity": total + 10})
        for _ in range(10):  # untimed: the first requests load what a worker loads once
            place(api)
    minutes = [Minute() for _ in range(args.minutes)]
    errors: list[str] = []
    schedule = iter(range(total))
    lock = threading.Lock()
    begun = time.monotonic()
    deadline = begun + args.minutes * 60 + 30

    def client() -> None:
        with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as api:
            while time.monotonic() < deadline:
                with lock:
                    index = next(schedule, None)
                if index is None:
                    return
                delay = begun + index / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # the schedule's pace, not a wait for a state
                if error := place(api):
                    errors.append(error)
                minutes[min(int(index / args.rate // 60), args.minutes - 1)].orders += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for index, minute in enumerate(minutes):
        end = begun + (index + 1) * 60
        while time.monotonic() < end and any(t.is_alive() for t in threads):
            time.sleep(0.2)
        minute.rss_mb = [rss_mb(pid) for pid in workers(master)]
        if args.tracemalloc and index in (0, args.minutes - 1):
            for pid in workers(master):
                os.kill(pid, signal.SIGUSR2)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 1)
    if args.tracemalloc:  # the workers write what grew as they take the second snapshot
        until = time.monotonic() + 60
        while len(list(directory.glob("growth-*.txt"))) < args.workers:
            if time.monotonic() > until:
                break
            time.sleep(0.5)
    return minutes, errors


def place(api: httpx.Client) -> str | None:
    body = {"customerId": "soak", "items": [{"sku": SKU, "quantity": 1}]}
    try:
        response = api.post("/api/orders", json=body)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    return None if response.status_code == 201 else f"{response.status_code} {response.text}"


def workers(master: int) -> list[int]:
    """gunicorn's workers: the children of the master (the entrypoint execs gunicorn)."""
    children = Path(f"/proc/{master}/task/{master}/children")
    with contextlib.suppress(OSError):
        return [int(pid) for pid in children.read_text().split()]
    return []


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def read_durations(log: str, minutes: list[Minute], args: argparse.Namespace) -> None:
    """The server's own duration of each POST /api/orders, into the minute it ended in (by
    the line's timestamp, from the first timed order's)."""
    lines = []
    for text in log.splitlines():
        with contextlib.suppress(ValueError):
            line = json.loads(text)
            if line.get("http_path") == "/api/orders" and line.get("http_method") == "POST":
                lines.append(line)
    timed = lines[10:]  # after the untimed orders
    if not timed:
        return
    first = datetime.fromisoformat(timed[0]["timestamp"])
    for line in timed:
        second = (datetime.fromisoformat(line["timestamp"]) - first).total_seconds()
        minute = minutes[min(int(second // 60), len(minutes) - 1)]
        minute.durations.append(float(line["duration_ms"]))


def table(
    minutes: list[Minute], errors: list[str], args: argparse.Namespace, elapsed: float, load: float
) -> str:
    lines = [
        f"{args.minutes} minutes of POST /api/orders at {args.rate:g}/s from {args.clients} "
        f"clients, gunicorn with {args.workers} workers (DEBUG off); the server's own duration "
        f"from its access lines; each worker's RSS at the minute's end. "
        f"{machine(elapsed, (load, load_average()))}",
        "",
        "| minute | orders | p50 ms | p99 ms | p99 / minute 2 | workers' RSS MB |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    second = percentiles(minutes[1].durations)[1] if minutes[1].durations else 0.0
    for number, minute in enumerate(minutes, start=1):
        p50, p99 = percentiles(minute.durations) if minute.durations else (0.0, 0.0)
        rss = ", ".join(f"{mb:.1f}" for mb in minute.rss_mb)
        lines.append(
            f"| {number} | {len(minute.durations)} | {p50:.1f} | {p99:.1f} "
            f"| {p99 / second if second else 0:.2f}x | {rss} |"
        )
    last = percentiles(minutes[-1].durations)[1] if minutes[-1].durations else 0.0
    growth = max(
        (b - a for a, b in zip(minutes[1].rss_mb, minutes[-1].rss_mb, strict=False)), default=0.0
    )
    lines += [
        "",
        f"Errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""),
        "",
        goal(
            f"last minute's p99 <= {GOAL_P99}x the second's (now "
            f"{last / second if second else 0:.2f}x)",
            bool(second) and last <= GOAL_P99 * second,
        ),
        goal(
            f"each worker's RSS grows <= {GOAL_RSS_MB:.0f} MB from minute 2 to the last "
            f"(now {growth:+.1f} MB)",
            growth <= GOAL_RSS_MB,
        ),
    ]
    if statistics.median([m.orders for m in minutes]) < args.rate * 60 * 0.9:
        lines.append("Note: fewer orders than scheduled went out; the machine could not keep up.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
