"""What the split says after an outage: its databases, its queues, its metrics and its logs.

Each function reads one source of truth, so a failing assertion names what was wrong where:
the module databases (the outbox, the inbox, orders and payments), the emulator's queues
(asked directly, never through a proxy in front of it), a service's /metrics, and the log
files of the processes the test started.
"""

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import boto3
import httpx
from prometheus_client.parser import text_string_to_metric_families

from modules.orders.models import Order, OrderStatus
from modules.payments.models import Payment
from modulith.database.store.models import Delivery, InboxRecord, OutboxEvent
from modulith.testing import wait_until
from tests.aws.emulator import REGION, Emulator
from tests.e2e.conftest import TOPOLOGY, Shop
from tests.e2e.shop_api import product

MODULES = [module.name for module in TOPOLOGY.modules]
SUBSCRIBERS = [module.name for module in TOPOLOGY.modules if module.handles]


def sqs(emulator: Emulator) -> Any:
    """A client of the emulator itself, whatever the services are pointed at."""
    return boto3.client(
        "sqs",
        endpoint_url=emulator.endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def queue_depth(client: Any, name: str) -> int:
    """Messages in the queue, visible or in flight (reading the attributes receives nothing,
    so it counts toward no redrive policy)."""
    url = client.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def dead_letter_queues(shop: Shop, emulator: Emulator) -> dict[str, int]:
    """The depth of every subscriber's dead-letter queue."""
    client = sqs(emulator)
    prefix = shop.aws["MODULITH_QUEUE_PREFIX"]
    return {module: queue_depth(client, f"{prefix}-{module}-dlq") for module in SUBSCRIBERS}


def deliveries(status: str) -> dict[str, int]:
    """Deliveries in this status, in each module's outbox."""
    return {
        module: Delivery.objects.using(module).filter(status=status).count() for module in MODULES
    }


def dead_letter_gauges(shop: Shop) -> dict[str, float]:
    """`modulith_dead_letters` as each module's service reports it on /metrics."""
    return {
        module: gauge(shop.services[module].url, "modulith_dead_letters", module=module)
        for module in MODULES
    }


def gauge(url: str, name: str, **labels: str) -> float:
    """A sample of a service's /metrics; -1 when it reports none with these labels."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return -1.0


def published(module: str) -> Counter[str]:
    """Events in the module's outbox, by name."""
    names = OutboxEvent.objects.using(module).values_list("event_name", flat=True)
    return Counter(names)


def handled(module: str) -> Counter[str]:
    """Events the module's handlers recorded in its inbox, by name."""
    names = InboxRecord.objects.using(module).values_list("event_name", flat=True)
    return Counter(names)


def per_order(module: str, *event_names: str) -> Counter[str]:
    """How many of these events the module published for each order."""
    events = OutboxEvent.objects.using(module).filter(event_name__in=event_names)
    return Counter(str(event.wire["detail"]["data"]["orderId"]) for event in events)


def pending_orders() -> list[str]:
    return [
        str(pk)
        for pk in Order.objects.filter(status=OrderStatus.PENDING).values_list("pk", flat=True)
    ]


def payments_per_order() -> Counter[str]:
    return Counter(str(order_id) for order_id in Payment.objects.values_list("order_id", flat=True))


def log_records(paths: Iterable[Path]) -> dict[str, list[dict[str, Any]]]:
    """The JSON log records of each log file, by file name (gunicorn's own lines skipped)."""
    records: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        records[path.name] = []
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records[path.name].append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def process_logs(shop: Shop) -> list[Path]:
    """The log files of every service and consumer the shop started (restarts included)."""
    return sorted(shop.log_dir.glob("*.log"))


def route_lines(shop: Shop) -> dict[tuple[str, str], tuple[int, int]]:
    """Per process log and route: how many "route down" and "route back" lines it holds."""
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for name, records in log_records(process_logs(shop)).items():
        for record in records:
            message = str(record.get("message", ""))
            down, back = message.startswith("route down: "), message.startswith("route back: ")
            if down or back:
                key = (name, str(record.get("route")))
                downs, backs = counts.get(key, (0, 0))
                counts[key] = (downs + down, backs + back)
    return counts


def messages_containing(path: Path, text: str) -> list[str]:
    records = log_records([path])[path.name]
    return [str(r["message"]) for r in records if text in str(r.get("message", ""))]


def assert_stock_sold_to_confirmed_orders(
    api: httpx.Client, orders: Iterable[Order], stocked: Mapping[str, int]
) -> None:
    """Each SKU's stock on hand is what was stocked less what the confirmed orders bought, and
    none is reserved, once inventory has handled every final order's outcome (the last ones
    may still be on its queue when the orders are final): each product read once."""
    shelves = wait_until(
        lambda: {sku: product(api, sku) for sku in stocked},
        lambda products: not any(body["reserved"] for body in products.values()),
        awaiting="inventory to commit or release every final order's stock",
        timeout=30,
    )
    confirmed = [o for o in orders if o.status == OrderStatus.CONFIRMED]
    for sku, quantity in stocked.items():
        sold = sum(line.quantity for o in confirmed for line in o.lines.all() if line.sku == sku)
        assert shelves[sku]["onHand"] == quantity - sold, (
            f"{sku}: stocked {quantity}, sold {sold} by the confirmed orders: {shelves[sku]}"
        )
