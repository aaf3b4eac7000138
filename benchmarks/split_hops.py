"""What the split adds per hop over the transport's own floor: the order saga in the split over
SQS against raw boto3 doing the same four hops on the same emulator, and the in-process saga
doing the same business work, in the same run, taking turns.

    .venv/bin/python -m benchmarks.split_hops [--sagas 100] [--warmup 5]

- **split**: `deploy/split.py up --transport sqs` (each module its own gunicorn and consumer, its
  own SQLite files, the emulator's SQS), with DEBUG off as production runs (the split itself is a
  development tool and turns DEBUG on: this benchmark starts it through split.py's own `up` with
  the production variables of harness.PRODUCTION instead, plain HTTP on 127.0.0.1). A saga is
  `POST /api/orders` at the orders service, then OrderPlaced, StockReserved, PaymentCaptured and
  OrderConfirmed over queues, and two port calls over signed HTTP (orders asks inventory for
  prices inside the POST; payments asks orders what to charge). The clock stops when
  inventory's reservation of the order is COMMITTED (the saga's last write), read from
  inventory's SQLite file (WAL, read-only) every POLL seconds; CONFIRMED is read from orders'.
- **raw boto3**: four queues on the same emulator, four threads each long-polling one with the
  consumers' setting (WaitTimeSeconds = MODULITH_CONSUMER_WAIT_SECONDS as the split sets it, up
  to 10 messages); a saga sends a message to the first queue, and each thread, on receiving,
  deletes it and sends it on to the next; the clock stops when the fourth has deleted it.
- **in-process**: the same saga in this process (benchmarks/saga.py, SQLite, DEBUG off), the
  three paths of bus_overhead.py: plain calls (the business work alone, no bus), the bus with
  deliveries inline, and with the delivery threads (whose first call returning is
  `order_place` alone).

Per hop, the framework's own time is (split - raw) / 4 as the goal states it; but the split
also does the saga's database work and two calls over HTTP, which raw boto3 does not. So also
(split - plain - raw - HTTP) / 4, the HTTP part being the POST over `order_place` in process
plus one GET of an order (standing in for payments' signed call to orders): what the outbox,
the relay, the consumer and the inbox cost a hop beyond the queue's own send, receive and
delete. Every process is stopped by PID (`split.py down`), everything on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import boto3
import httpx

from benchmarks.colocation import clean_env, free_port
from benchmarks.colocation import stock as stock_split
from benchmarks.harness import (
    PRODUCTION,
    ROOT,
    goal,
    load_average,
    machine,
    ms,
    percentiles,
    set_up_django,
)

DESCRIPTION = "What the split over SQS adds per hop, against raw boto3 on the same emulator."
HOPS = 4
MIN_SAGAS = 20  # CPU is read in clock ticks (10 ms): only a sum over many sagas means anything
GOAL_RATIO = 1.15
GOAL_MS_PER_HOP = 2.0
WAIT_SECONDS = 5  # the consumers' long poll in the split (split.py sets it)
POLL = 0.0005  # seconds between reads of the final state
TIMEOUT = 30.0  # seconds, for one saga
BACKGROUND = 10.0  # seconds over which the split's CPU without sagas is measured
SKU = "BENCH-HOPS"
BODY = "x" * 900  # about the size of an envelope of the saga
HEADERS = {"X-API-Key": PRODUCTION["MODULITH_API_KEYS"]}
# The production variables, on plain HTTP: the services are reached on 127.0.0.1 directly.
SPLIT_ENV = {**PRODUCTION, "DJANGO_SECURE_SSL_REDIRECT": "0"}


@dataclass
class Series:
    name: str
    ended: list[float] = field(default_factory=list)  # seconds, start to final state
    confirmed: list[float] = field(default_factory=list)  # to the order CONFIRMED
    first_call: list[float] = field(default_factory=list)  # the POST, or order_place
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by whose, all sagas

    def add(self, ended: float, confirmed: float, first_call: float) -> None:
        self.ended.append(ended)
        self.confirmed.append(confirmed)
        self.first_call.append(first_call)

    def add_cpu(
        self, before: Mapping[str, float], after: Mapping[str, float], sign: float = 1.0
    ) -> None:
        for whose, seconds in after.items():
            self.cpu[whose] = self.cpu.get(whose, 0.0) + sign * (seconds - before[whose])

    def cpu_ms(self, whose: str) -> float:
        """Milliseconds of CPU a saga."""
        return self.cpu.get(whose, 0.0) / len(self.ended) * 1000

    def p50(self, values: list[float] | None = None) -> float:
        return percentiles(values if values is not None else self.ended)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--sagas", type=int, default=100, help="timed sagas a path (100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed sagas a path first (5)")
    parser.add_argument("--up", help=argparse.SUPPRESS)  # a directory: start the split there
    args = parser.parse_args(argv)
    if args.up:
        return _split_up(Path(args.up))
    if args.sagas < MIN_SAGAS or args.warmup < 1:
        parser.error(f"--sagas must be at least {MIN_SAGAS} and --warmup at least 1")
    started, load = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="modulith-bench-hops-") as workdir:
        series, order_get, get_cpu = _run(Path(workdir), args.sagas, args.warmup)
    elapsed = time.perf_counter() - started
    print(_table(series, order_get, get_cpu, args, elapsed, (load, load_average())))
    return 0


# --- the split, DEBUG off ------------------------------------------------------------------------


def _split_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("split", ROOT / "deploy" / "split.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("deploy/split.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _split_up(state: Path) -> int:
    """`split.py up --transport sqs`, with production's variables for the development ones
    (run in a process of its own: it sets Django up with the split's settings)."""
    split = _split_module()
    split.DEVELOPMENT = SPLIT_ENV  # type: ignore[attr-defined]
    split.DEVELOPMENT_API_KEY = PRODUCTION["MODULITH_API_KEYS"]  # type: ignore[attr-defined]
    try:
        split.up(state, port=free_port(), transport="sqs", emulator_port=None)
    except split.SplitError as error:
        print(f"split: {error}", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _split(state: Path) -> Iterator[dict[str, str]]:
    up = [sys.executable, "-m", "benchmarks.split_hops", "--up", str(state)]
    down = [sys.executable, str(ROOT / "deploy" / "split.py"), "down", "--dir", str(state)]
    try:
        subprocess.run(
            up, cwd=ROOT, env=clean_env(), check=True, stdout=subprocess.DEVNULL, timeout=300
        )
        yield json.loads((state / "urls.json").read_text())
    finally:
        subprocess.run(down, cwd=ROOT, env=clean_env(), check=False, timeout=120)


class FinalState:
    """Reads the saga's states straight from the split's SQLite files (WAL: a reader does not
    hold up a writer)."""

    def __init__(self, state: Path) -> None:
        self._orders = self._open(state / "orders" / "orders.sqlite3")
        self._inventory = self._open(state / "inventory" / "inventory.sqlite3")

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)

    def confirmed(self, order_id: UUID) -> bool:
        row = self._orders.execute(
            "SELECT status FROM orders_order WHERE id = ?", [order_id.hex]
        ).fetchone()
        return row is not None and row[0] == "CONFIRMED"

    def committed(self, order_id: UUID) -> bool:
        row = self._inventory.execute(
            "SELECT count(*) FROM inventory_reservation WHERE order_id = ? AND status = ?",
            [order_id.hex, "COMMITTED"],
        ).fetchone()
        return bool(row[0])

    def close(self) -> None:
        self._orders.close()
        self._inventory.close()


def _split_saga(api: httpx.Client, final: FinalState) -> tuple[UUID, float, float, float]:
    """The order, and seconds from before the POST to: its response, CONFIRMED, COMMITTED."""
    body = {"customerId": "bench", "items": [{"sku": SKU, "quantity": 1}]}
    started = time.perf_counter()
    response = api.post("/api/orders", json=body)
    posted = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/orders: {response.status_code} {response.text}")
    order_id = UUID(response.json()["orderId"])
    confirmed = 0.0
    while (elapsed := time.perf_counter() - started) < TIMEOUT:
        if not confirmed and final.confirmed(order_id):
            confirmed = elapsed
        if final.committed(order_id):
            return order_id, posted, confirmed or elapsed, elapsed
        time.sleep(POLL)
    raise RuntimeError(f"the saga of order {order_id} did not end in {TIMEOUT} s")


class SplitCpu:
    """CPU seconds (user + system) of the split's processes, by kind: the web processes, the
    consumers, the emulator. Each was started in a session of its own (split.py), so its
    process group holds it and its children (gunicorn's workers); read from /proc, in clock
    ticks, so a saga's figure is coarse and only the sum over many sagas counts."""

    def __init__(self, state: Path) -> None:
        pids = json.loads((state / "pids.json").read_text())
        self._kinds = {
            int(pid): "emulator" if name == "emulator" else name.rsplit("-", 1)[-1]
            for name, pid in pids.items()
            if name != "nginx"  # not on the measured path: the services are called directly
        }

    def read(self) -> dict[str, float]:
        totals = dict.fromkeys(self._kinds.values(), 0.0)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            kind = self._kinds.get(int(fields[2]))  # the process group
            if kind:
                totals[kind] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return totals

    def emulator(self) -> dict[str, float]:
        return {"emulator": self.read()["emulator"]}


def own_cpu() -> dict[str, float]:
    """This process's CPU seconds, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"this process": usage.ru_utime + usage.ru_stime}


def _background(cpu: SplitCpu) -> dict[str, float]:
    """The split's CPU seconds a second with no saga running (the embedded relays' sweeps,
    the consumers' and gunicorn's idle loops), over BACKGROUND seconds: what the processes cost
    whether or not an order comes, taken out of the sagas' figure."""
    before, started = cpu.read(), time.perf_counter()
    time.sleep(BACKGROUND)  # a window to measure over, not a wait for something
    after, elapsed = cpu.read(), time.perf_counter() - started
    return {kind: (after[kind] - before[kind]) / elapsed for kind in after}


# --- raw boto3 ------------------------------------------------------------------------------------


class RawHops:
    """Four queues and four threads, each long-polling one and passing a message on."""

    def __init__(self, endpoint: str) -> None:
        self._endpoint = endpoint
        sqs = self._client()
        self._urls = [sqs.create_queue(QueueName=f"raw-hop-{n}")["QueueUrl"] for n in range(HOPS)]
        self._stop = threading.Event()
        self._arrived = threading.Event()
        self._errors: list[BaseException] = []
        self._sqs = sqs
        self._threads = [
            threading.Thread(target=self._hop, args=(n,), daemon=True) for n in range(HOPS)
        ]
        for thread in self._threads:
            thread.start()

    def _client(self) -> Any:
        return boto3.session.Session().client(
            "sqs",
            endpoint_url=self._endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def _hop(self, n: int) -> None:
        sqs = self._client()
        try:
            while not self._stop.is_set():
                received = sqs.receive_message(
                    QueueUrl=self._urls[n],
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=WAIT_SECONDS,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=[
                        "ApproximateReceiveCount",
                        "AWSTraceHeader",
                        "SentTimestamp",
                    ],
                )
                for message in received.get("Messages", []):
                    sqs.delete_message(
                        QueueUrl=self._urls[n], ReceiptHandle=message["ReceiptHandle"]
                    )
                    if message["Body"] == "stop":
                        continue
                    if n + 1 < HOPS:
                        sqs.send_message(QueueUrl=self._urls[n + 1], MessageBody=message["Body"])
                    else:
                        self._arrived.set()
        except BaseException as error:  # reported by the saga that waits for it
            self._errors.append(error)
            self._arrived.set()

    def saga(self) -> float:
        self._arrived.clear()
        started = time.perf_counter()
        self._sqs.send_message(QueueUrl=self._urls[0], MessageBody=BODY)
        if not self._arrived.wait(TIMEOUT) or self._errors:
            raise RuntimeError(f"raw hops failed: {self._errors or 'timed out'}")
        return time.perf_counter() - started

    def close(self) -> None:
        self._stop.set()
        for url in self._urls:  # ends each long poll now
            self._sqs.send_message(QueueUrl=url, MessageBody="stop")
        for thread in self._threads:
            thread.join(WAIT_SECONDS + 5)
        for url in self._urls:
            self._sqs.delete_queue(QueueUrl=url)


# --- the run --------------------------------------------------------------------------------------


def _run(workdir: Path, sagas: int, warmup: int) -> tuple[dict[str, Series], list[float], Series]:
    """The sagas, and the GETs of an order: their times and (a Series) their CPU."""
    set_up_django(workdir / "var")  # the in-process sagas', in this process
    from benchmarks.bus_overhead import INLINE, PLAIN, THREAD, saga_paths
    from benchmarks.saga import SagaClock, run_one, stock
    from modulith.runtime import install

    local = saga_paths()
    stock(len(local) * (warmup + sagas))
    split_state = workdir / "split"
    series = {name: Series(name) for name in ("split", "raw boto3", PLAIN, INLINE, THREAD)}
    order_get: list[float] = []
    get_cpu = Series("GET an order")
    with _split(split_state) as urls:
        stock_split(urls["inventory"], warmup + sagas, sku=SKU, headers=HEADERS)
        final = FinalState(split_state)
        cpu = SplitCpu(split_state)
        raw = RawHops(urls["emulator"])
        try:
            with (
                httpx.Client(base_url=urls["orders"], headers=HEADERS, timeout=10) as api,
                SagaClock().connected() as clock,
            ):
                for index in range(warmup + sagas):
                    timed = index >= warmup
                    if index == warmup:
                        background = _background(cpu)
                        split_started, loop_started = cpu.read(), time.perf_counter()
                    order_id, posted, confirmed, ended = _split_saga(api, final)
                    raw_before = cpu.emulator() | own_cpu()
                    raw_seconds = raw.saga()
                    raw_after = cpu.emulator() | own_cpu()
                    get_before = cpu.read()
                    got = time.perf_counter()
                    api.get(f"/api/orders/{order_id}").raise_for_status()
                    got = time.perf_counter() - got
                    get_after = cpu.read()
                    if timed:
                        series["split"].add(ended, confirmed, posted)
                        series["raw boto3"].ended.append(raw_seconds)
                        series["raw boto3"].add_cpu(raw_before, raw_after)
                        get_cpu.add_cpu(get_before, get_after)
                        order_get.append(got)
                    for path in local.values():
                        install(path.runtime)
                        before = own_cpu()
                        sample = run_one(clock, path.saga, threaded=path.threaded)
                        if timed:
                            series[path.name].add(sample.ended, sample.confirmed, sample.returned)
                            series[path.name].add_cpu(before, own_cpu())
                    if timed and (index - warmup + 1) % 25 == 0:
                        print(f"{index - warmup + 1} sagas a path", file=sys.stderr, flush=True)
                # The split's processes over the timed sagas, but for what raw boto3 cost the
                # emulator and what the GETs cost the web processes: what the split's sagas
                # cost, their trailing work (the last delete) included.
                series["split"].add_cpu(split_started, cpu.read())
                loop = time.perf_counter() - loop_started
                idle = {kind: rate * loop for kind, rate in background.items()}
                series["split"].add_cpu(dict.fromkeys(idle, 0.0), idle, -1.0)
                raw_emulator = {"emulator": series["raw boto3"].cpu["emulator"]}
                series["split"].add_cpu({"emulator": 0.0}, raw_emulator, -1.0)
                series["split"].add_cpu(dict.fromkeys(get_cpu.cpu, 0.0), get_cpu.cpu, -1.0)
        finally:
            raw.close()
            final.close()
    return series, order_get, get_cpu


def _table(
    series: dict[str, Series],
    order_get: list[float],
    get_cpu: Series,
    args: argparse.Namespace,
    elapsed: float,
    load: tuple[float, float],
) -> str:
    from benchmarks.bus_overhead import INLINE, PLAIN, THREAD

    split, raw, plain = series["split"], series["raw boto3"], series[PLAIN]
    lines = [
        f"{args.sagas} sagas a path after {args.warmup} untimed, the paths taking turns; "
        f"milliseconds from the first call to the saga's last write (raw boto3: to the fourth "
        f"delete). {machine(elapsed, load)}",
        "",
        "| path | sagas | p50 ms | p99 ms | to CONFIRMED p50 ms | first call returns p50 ms "
        "| CPU ms a saga |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for path in series.values():
        p50, p99 = percentiles(path.ended)
        confirmed = ms(path.p50(path.confirmed)) if path.confirmed else ""
        first = ms(path.p50(path.first_call)) if path.first_call else ""
        cpu = ", ".join(f"{whose} {path.cpu_ms(whose):.1f}" for whose in path.cpu)
        lines.append(
            f"| {path.name} | {len(path.ended)} | {ms(p50)} | {ms(p99)} | {confirmed} | {first} "
            f"| {cpu} |"
        )
    ratio = split.p50() / raw.p50()
    naive = (split.p50() - raw.p50()) / HOPS
    get = statistics.median(order_get)
    http = split.p50(split.first_call) - series[THREAD].p50(series[THREAD].first_call) + get
    own = (split.p50() - plain.p50() - raw.p50() - http) / HOPS
    bus = (series[INLINE].p50() - plain.p50()) / HOPS
    serving = get_cpu.cpu.get("web", 0.0) / len(order_get) * 1000
    cpu_own = (
        split.cpu_ms("web")
        + split.cpu_ms("consumer")
        - plain.cpu_ms("this process")
        - 3 * serving
        - raw.cpu_ms("this process")
    ) / HOPS
    lines += [
        "",
        f"split / raw boto3 at p50: {ratio:.2f}x; (split - raw) / {HOPS} = {ms(naive)} ms a hop, "
        f"which holds the saga's own database work and its HTTP calls besides the hops.",
        f"The HTTP part: the POST over `order_place` in process (the {THREAD} path's first "
        f"call), plus one GET of the order ({ms(get)} ms p50, standing for payments' call to "
        f"orders) = {ms(http)} ms.",
        f"(split - {PLAIN} - raw - HTTP) / {HOPS} = {ms(own)} ms a hop: the framework's own "
        f"time a hop in the split (outbox, relay, consumer, inbox) beyond the queue's send, "
        f"receive and delete. In process, the bus's own time a hop: ({INLINE} - {PLAIN}) / "
        f"{HOPS} = {ms(bus)} ms.",
        f"In CPU (milliseconds a saga, which the machine's load moves less than time): the "
        f"split's web processes {split.cpu_ms('web'):.1f} and consumers "
        f"{split.cpu_ms('consumer'):.1f}; serving one GET of an order costs the web processes "
        f"{serving:.1f}; raw boto3's client {raw.cpu_ms('this process'):.1f}; the plain "
        f"saga {plain.cpu_ms('this process'):.1f}. (split's web + consumers - plain - 3 HTTP "
        f"requests served - raw's client) / {HOPS} = {cpu_own:.1f} ms of CPU a hop: the "
        f"framework's own, with the client side of the two port calls still in it. The "
        f"emulator: {split.cpu_ms('emulator') / HOPS:.1f} ms a hop for the split, "
        f"{raw.cpu_ms('emulator') / HOPS:.1f} for raw boto3.",
        "",
        goal(f"split / raw boto3 at p50 <= {GOAL_RATIO}x (now {ratio:.2f}x)", ratio <= GOAL_RATIO),
        goal(
            f"the framework's own time a hop <= {GOAL_MS_PER_HOP} ms: (split - raw) / {HOPS} "
            f"{ms(naive)} ms; without the saga's own work and HTTP {ms(own)} ms",
            own <= GOAL_MS_PER_HOP / 1000,
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
