"""Logs are JSON lines that say what they are about: the trace, the module, the event being
handled and the order it concerns, so that one order leaves a trail in every module."""

import json
from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from modulith.bus import Envelope
from modulith.database.store.models import OutboxEvent
from modulith.observability.logs import correlation_fields
from modulith.observability.trace import trace_context
from tests.modulith.observability.conftest import LogLines
from tests.modulith.test_delivery import capture_payment_for
from tests.processes import run_python
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def event_id(module: str, event_name: str) -> str:
    wire = OutboxEvent.objects.using(module).get(event_name=event_name).wire
    return str(Envelope.from_wire(wire).event_id)


def the_line(lines: list[dict[str, Any]], message: str, **fields: str) -> dict[str, Any]:
    found = [
        line
        for line in lines
        if line["message"] == message and all(line.get(k) == v for k, v in fields.items())
    ]
    assert len(found) == 1, (message, fields, [line["message"] for line in lines])
    return found[0]


def test_handling_an_event_logs_a_json_line_with_trace_module_event_and_order(
    client: Client, json_log: LogLines
) -> None:
    stock(client, "KB-1", 5)

    order_id = place(client, ("KB-1", 1), traceparent=TRACEPARENT).json()["orderId"]

    lines = json_log()
    handled = the_line(lines, "handled OrderPlaced")
    assert handled["level"] == "INFO"
    assert handled["logger"] == "modulith.bus.dispatch"
    assert handled["module"] == "inventory"
    assert handled["trace_id"] == TRACE
    assert handled["event_name"] == "OrderPlaced"
    assert handled["event_id"] == event_id("orders", "OrderPlaced")
    assert handled["order_id"] == order_id
    assert handled["timestamp"].endswith("+00:00")
    for line in lines:
        assert {"timestamp", "level", "logger", "message", "module"} <= line.keys()


def test_one_order_leaves_a_trail_in_every_module_in_one_trace(
    client: Client, json_log: LogLines
) -> None:
    stock(client, "KB-1", 5)

    order_id = place(client, ("KB-1", 1), traceparent=TRACEPARENT).json()["orderId"]

    trail = [line for line in json_log() if line.get("order_id") == order_id]
    assert {line["trace_id"] for line in trail} == {TRACE}
    assert {line["module"] for line in trail} == {"orders", "inventory", "payments"}
    messages = {(line["module"], line["message"]) for line in trail}
    assert {
        ("orders", "published OrderPlaced"),
        ("orders", "delivered OrderPlaced to inventory"),
        ("inventory", "handled OrderPlaced"),
        ("inventory", "published StockReserved"),
        ("payments", "handled StockReserved"),
        ("payments", "published PaymentCaptured"),
        ("orders", "handled PaymentCaptured"),
        ("orders", "published OrderConfirmed"),
        ("inventory", "handled OrderConfirmed"),
    } <= messages
    published = the_line(trail, "published StockReserved")
    assert published["event_id"] == event_id("inventory", "StockReserved")


def test_a_failed_delivery_logs_its_retry_in_the_event_trace(
    json_log: LogLines, settings: Any
) -> None:
    settings.MODULITH_RETRY_BASE_SECONDS = 30.0
    order_id = uuid4()

    with trace_context(TRACEPARENT):
        capture_payment_for(order_id)  # orders has no such order: the delivery fails

    [retried] = [line for line in json_log() if line["level"] == "WARNING"]
    assert retried["message"].startswith("PaymentCaptured to orders failed (attempt 1)")
    assert "LookupError" in retried["message"]
    assert retried["logger"] == "modulith.outbox.relay"
    assert (retried["module"], retried["route"]) == ("payments", "orders")
    assert retried["trace_id"] == TRACE
    assert retried["order_id"] == str(order_id)


def test_a_request_names_its_module_and_the_order_of_its_path_or_query(
    client: Client, json_log: LogLines, settings: Any
) -> None:
    settings.ROOT_URLCONF = "tests.modulith.observability.urls"
    order_id = "6f1c9b1e-8f0e-4a8e-9d0e-6f1d2c3b4a59"

    client.get(f"/api/orders/{order_id}/trail", headers={"traceparent": TRACEPARENT})
    client.get("/api/payments/search", {"orderId": order_id})

    path, query = [line for line in json_log() if line["logger"] == "shop.orders"]
    assert path | {"timestamp": None} == {
        "timestamp": None,
        "level": "INFO",
        "logger": "shop.orders",
        "message": "looked at the order",
        "module": "orders",
        "order_id": order_id,
        "trace_id": TRACE,
    }
    assert (query["module"], query["order_id"]) == ("payments", order_id)
    assert len(query["trace_id"]) == 32
    assert query["trace_id"] != TRACE  # a trace of its own


def test_handling_in_a_celery_task_restores_the_event_trace(
    client: Client, json_log: LogLines, settings: Any
) -> None:
    settings.MODULITH_ASYNC_HANDLERS = "celery"  # eager here: no broker
    stock(client, "KB-1", 5)

    place(client, ("KB-1", 1), traceparent=TRACEPARENT)

    handled = [line for line in json_log() if line["message"].startswith("handled ")]
    assert {(line["module"], line["message"]) for line in handled} == {
        ("inventory", "handled OrderPlaced"),
        ("payments", "handled StockReserved"),
        ("orders", "handled PaymentCaptured"),
        ("inventory", "handled OrderConfirmed"),
    }
    assert {line["trace_id"] for line in handled} == {TRACE}


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_a_process_logs_json_lines_unless_told_plain(log_format: str) -> None:
    logged = run_python(
        "import logging, django\n"
        "django.setup()\n"
        "logging.getLogger('shop').warning('stock is low')\n",
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_FORMAT=log_format,
    )

    assert logged.returncode == 0, logged.stderr
    [line] = logged.stderr.splitlines()
    if log_format == "plain":
        assert line.endswith(" WARNING shop stock is low")
        return
    record = json.loads(line)
    assert record | {"timestamp": None} == {
        "timestamp": None,
        "level": "WARNING",
        "logger": "shop",
        "message": "stock is low",
        "module": "orders,inventory,payments",  # no module's work: the modules running here
    }


def test_an_unknown_log_format_is_refused_in_one_line() -> None:
    refused = run_python(
        "import django\ndjango.setup()\n",
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_FORMAT="xml",
    )

    assert refused.returncode != 0
    assert "LOG_FORMAT must be json or plain, not 'xml'" in refused.stderr


def test_the_business_ids_in_logs_are_the_projects_own(settings: Any) -> None:
    """(The framework names none by default: tests/modulith/conf/test_settings.py.)"""
    order_id = str(uuid4())
    data = {"orderId": order_id, "customerId": "customer-7"}

    settings.MODULITH_LOG_CORRELATION_FIELDS = []
    unnamed = correlation_fields(data)
    settings.MODULITH_LOG_CORRELATION_FIELDS = ["customerId"]
    named = correlation_fields(data)

    assert unnamed == {}
    assert named == {"customer_id": "customer-7"}
