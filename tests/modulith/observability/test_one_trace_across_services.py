"""One order in the split topology (every module its own web service and queue consumer, events
over SQS, query ports over signed HTTP) leaves JSON log lines in all three modules, all with
the trace id the order was placed in."""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.management import call_command

from modulith.testing import wait_until
from tests.aws.consumers import ConsumerProcess
from tests.aws.emulator import AwsContext
from tests.conftest import API_KEY
from tests.service import Service

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

MODULES = ("orders", "inventory", "payments")
TRACE = "5f0c2a1b9d8e7f60a1b2c3d4e5f60718"
SECRET = "one-trace-test-secret"


@pytest.fixture
def split(
    tmp_path: Path,
    aws: AwsContext,
    settings: Any,
) -> Iterator[tuple[dict[str, Service], list[ConsumerProcess]]]:
    """Each module as its own gunicorn service and its own consumer, logging JSON lines."""
    settings.MODULITH_TRANSPORT = "sqs"
    call_command("provision", verbosity=0)
    services = {module: Service(tmp_path, module) for module in MODULES}
    common = {
        **aws.env,
        "MODULITH_TRANSPORT": "sqs",
        "MODULITH_INTERNAL_SECRET": SECRET,
        "MODULITH_SERVICE_URLS": ",".join(f"{m}={s.url}" for m, s in services.items()),
        "LOG_FORMAT": "json",
    }
    for module, service in services.items():
        service.env = {**common, "MODULITH_MODULES": module}
    consumers = [
        ConsumerProcess(
            tmp_path,
            module,
            env={**common, "MODULITH_MODULES": module, "MODULITH_ASYNC_HANDLERS": "inline"},
        )
        for module in MODULES
    ]
    processes: list[Service | ConsumerProcess] = [*services.values(), *consumers]
    # Each takes seconds to start and to stop: all at once.
    with ThreadPoolExecutor(len(processes)) as pool:
        try:
            for started in [pool.submit(process.start) for process in processes]:
                started.result()
            yield services, consumers
        finally:
            for stopped in [pool.submit(process.stop) for process in processes]:
                stopped.result()


def json_lines(*processes: Service | ConsumerProcess) -> list[dict[str, Any]]:
    """The JSON log lines of the processes (gunicorn's own lines are not JSON)."""
    lines = []
    for process in processes:
        for text in process.output().splitlines():
            if text.startswith("{"):
                lines.append(json.loads(text))
    return lines


def test_one_order_leaves_lines_of_every_module_with_its_trace_id(
    split: tuple[dict[str, Service], list[ConsumerProcess]],
) -> None:
    services, consumers = split
    inventory, orders = services["inventory"].url, services["orders"].url
    keyed = {"X-API-Key": API_KEY}
    stocked = httpx.post(
        f"{inventory}/api/inventory/products",
        json={
            "sku": "KB-1",
            "name": "Keyboard",
            "unitPrice": "89.00",
            "currency": "EUR",
            "quantity": 5,
        },
        headers=keyed,
    )
    assert stocked.status_code == 201, stocked.text

    placed = httpx.post(
        f"{orders}/api/orders",
        json={"customerId": "alice", "items": [{"sku": "KB-1", "quantity": 1}]},
        headers={**keyed, "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"},
        timeout=10,
    )
    assert placed.status_code == 201, placed.text
    assert placed.headers["X-Trace-Id"] == TRACE
    order_id = placed.json()["orderId"]
    wait_until(
        lambda: httpx.get(f"{orders}/api/orders/{order_id}", headers=keyed).json()["status"],
        lambda status: status == "CONFIRMED",
        awaiting=f"order {order_id} to be confirmed",
        timeout=30,
        details=lambda: json_lines(*services.values(), *consumers),
    )

    expected = {
        ("orders", "published OrderPlaced"),
        ("inventory", "answered InventoryQueries.prices for orders"),
        ("inventory", "handled OrderPlaced"),
        ("payments", "handled StockReserved"),
        ("orders", "answered OrderQueries.payment_request for payments"),
        ("orders", "handled PaymentCaptured"),
    }

    def traced() -> list[dict[str, Any]]:
        everything = json_lines(*services.values(), *consumers)
        return [line for line in everything if line.get("trace_id") == TRACE]

    wait_until(
        lambda: {(line["module"], line["message"]) for line in traced()},
        lambda seen: expected <= seen,
        awaiting=f"the log lines of the trace: {sorted(expected)}",
        timeout=10,
    )
    lines = traced()
    assert {line["module"] for line in lines} == set(MODULES)
    handled = [line for line in lines if line["message"].startswith("handled ")]
    assert {line["order_id"] for line in handled} == {order_id}
    assert all(line["event_id"] and line["timestamp"] and line["level"] for line in handled)
