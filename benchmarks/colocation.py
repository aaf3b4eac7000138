"""What co-location is worth: the time from `POST /api/orders` to the order's final state, for
the monolith (one gunicorn, the in-process bus, deliveries on background threads) and for the
split (three services, each with its consumer: a query over signed HTTP and four events over
queues through the AWS emulator), in the same run on the same machine.

    .venv/bin/python -m benchmarks.colocation [--orders 100] [--transport eventbridge|sqs|sns]

Orders are placed one at a time. The clock starts before the POST and stops when a GET of the
order first shows CONFIRMED; the order is polled every --poll seconds. Both topologies are
measured at their orders service, without a proxy in front. The split is started and stopped
by deploy/split.py, the monolith by deploy/entrypoint.sh, both in a temporary directory.
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"X-API-Key": "dev-api-key"}
SKU = "BENCH-1"
WARMUP = 5
FINAL_TIMEOUT = 30.0


@dataclass
class Result:
    name: str
    totals: list[float]  # seconds, POST start to the final state seen
    posts: list[float]  # seconds, the POST alone

    def row(self) -> str:
        p50, p99 = percentiles(self.totals)
        cells = [
            self.name,
            str(len(self.totals)),
            ms(p50),
            ms(p99),
            ms(statistics.fmean(self.totals)),
            ms(statistics.median(self.posts)),
        ]
        return "| " + " | ".join(cells) + " |"


def percentiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[98]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def measure(name: str, orders_url: str, count: int, poll: float) -> Result:
    totals: list[float] = []
    posts: list[float] = []
    with httpx.Client(base_url=orders_url, headers=HEADERS, timeout=10) as api:
        for index in range(WARMUP + count):
            total, post = one_order(api, poll)
            if index >= WARMUP:
                totals.append(total)
                posts.append(post)
    return Result(name, totals, posts)


def one_order(api: httpx.Client, poll: float) -> tuple[float, float]:
    body = {"customerId": "bench", "items": [{"sku": SKU, "quantity": 1}]}
    started = time.perf_counter()
    response = api.post("/api/orders", json=body)
    posted = time.perf_counter()
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/orders: {response.status_code} {response.text}")
    order = f"/api/orders/{response.json()['orderId']}"
    while time.perf_counter() - started < FINAL_TIMEOUT:
        status = api.get(order).json()["status"]
        if status != "PENDING":
            if status != "CONFIRMED":
                raise RuntimeError(f"{order} ended {status}")
            return time.perf_counter() - started, posted - started
        time.sleep(poll)
    raise RuntimeError(f"{order} still PENDING after {FINAL_TIMEOUT} s")


def stock(
    inventory_url: str, quantity: int, *, sku: str = SKU, headers: dict[str, str] = HEADERS
) -> None:
    product = {"sku": sku, "name": "Benchmark", "unitPrice": "1.00", "currency": "EUR"}
    response = httpx.post(
        f"{inventory_url}/api/inventory/products",
        json={**product, "quantity": quantity},
        headers=headers,
        timeout=10,
    )
    response.raise_for_status()


# -- the two topologies --------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """This shell's environment without what would change what the processes run."""
    foreign = ("DJANGO_", "MODULITH_", "CELERY_", "AWS_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(foreign) and not k.endswith("DATABASE_URL")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@contextlib.contextmanager
def monolith(directory: Path) -> Iterator[str]:
    port = free_port()
    env = clean_env() | {
        "DJANGO_DEBUG": "1",  # as the split (`make split`) runs: the same conditions on both sides
        "MODULITH_VAR_DIR": str(directory),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
    }
    with (directory / "monolith.log").open("wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "deploy" / "entrypoint.sh"), "web"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@contextlib.contextmanager
def split(directory: Path, transport: str) -> Iterator[dict[str, str]]:
    command = [sys.executable, str(ROOT / "deploy" / "split.py")]
    state = ["--dir", str(directory)]
    up = [*command, "up", *state, "--port", str(free_port()), "--transport", transport]
    try:
        subprocess.run(up, env=clean_env(), check=True, stdout=subprocess.DEVNULL, timeout=300)
        yield json.loads((directory / "urls.json").read_text())
    finally:
        subprocess.run([*command, "down", *state], env=clean_env(), check=False, timeout=120)


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the monolith did not start at {url}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the run -------------------------------------------------------------------------------


def run(count: int, transport: str, poll: float) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="colocation-") as temporary:
        directory = Path(temporary)
        (directory / "monolith").mkdir()
        with monolith(directory / "monolith") as url:
            stock(url, WARMUP + count)
            results = [measure("monolith (in-process)", url, count, poll)]
        with split(directory / "split", transport) as urls:
            stock(urls["inventory"], WARMUP + count)
            results.append(measure(f"split (HTTP + {transport})", urls["orders"], count, poll))
    return results


def table(results: list[Result]) -> str:
    monolith_result, split_result = results
    (m50, m99), (s50, s99) = percentiles(monolith_result.totals), percentiles(split_result.totals)
    lines = [
        "| topology | orders | p50 ms | p99 ms | mean ms | POST p50 ms |",
        "|---|---:|---:|---:|---:|---:|",
        *(result.row() for result in results),
        f"| split / monolith | | {s50 / m50:.1f}x | {s99 / m99:.1f}x | | |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--transport", choices=["eventbridge", "sqs", "sns"], default="eventbridge")
    parser.add_argument("--poll", type=float, default=0.002, help="seconds between GETs")
    args = parser.parse_args()
    print(table(run(args.orders, args.transport, args.poll)))


if __name__ == "__main__":
    main()
