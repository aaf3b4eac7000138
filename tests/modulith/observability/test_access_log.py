"""Every HTTP request leaves one JSON line on `modulith.http` when it ends: method, path,
status, duration, module and trace, at ERROR from 500 on."""

from typing import Any
from uuid import uuid4

import pytest
from django.test import Client

from tests.conftest import API_KEY
from tests.modulith.observability.conftest import LogLines

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
PRODUCT = {"sku": "KB-1", "name": "Keyboard", "unitPrice": "10.00", "currency": "EUR"}


def http_lines(json_log: LogLines) -> list[dict[str, Any]]:
    return [line for line in json_log() if line["logger"] == "modulith.http"]


def test_a_request_leaves_one_json_line_with_its_method_path_status_duration_and_trace(
    client: Client, json_log: LogLines
) -> None:
    response = client.post(
        "/api/inventory/products",
        {**PRODUCT, "quantity": 5},
        content_type="application/json",
        headers={"traceparent": TRACEPARENT},
    )

    assert response.status_code == 201, response.content
    [line] = http_lines(json_log)
    duration = line.pop("duration_ms")
    assert isinstance(duration, float)
    assert duration >= 0
    assert line | {"timestamp": None} == {
        "timestamp": None,
        "level": "INFO",
        "logger": "modulith.http",
        "message": f"POST /api/inventory/products 201 {duration:.1f} ms",
        "http_method": "POST",
        "http_path": "/api/inventory/products",
        "http_status": 201,
        "module": "inventory",
        "trace_id": TRACE,
    }
    assert response["X-Trace-Id"] == TRACE


def test_a_created_and_a_not_found_both_log_in_their_own_trace(
    client: Client, json_log: LogLines
) -> None:
    created = client.post(
        "/api/inventory/products", {**PRODUCT, "quantity": 5}, content_type="application/json"
    )
    missing = uuid4()
    not_found = client.get(f"/api/orders/{missing}")

    assert (created.status_code, not_found.status_code) == (201, 404)
    first, second = http_lines(json_log)
    assert (first["http_status"], first["level"], first["module"]) == (201, "INFO", "inventory")
    assert (second["http_status"], second["level"], second["module"]) == (404, "INFO", "orders")
    assert second["http_path"] == f"/api/orders/{missing}"
    assert second["order_id"] == str(missing)  # the path's business id, as on every line
    assert first["trace_id"] == created["X-Trace-Id"]
    assert second["trace_id"] == not_found["X-Trace-Id"] != first["trace_id"]
    assert [line for line in json_log() if line["logger"] == "django.request"] == []  # no repeat


def test_a_server_error_logs_at_error(json_log: LogLines, settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.modulith.observability.urls"
    client = Client(raise_request_exception=False, headers={"X-API-Key": API_KEY})

    response = client.get("/api/orders/o-1/fail")

    assert response.status_code == 500
    [line] = http_lines(json_log)
    assert (line["level"], line["http_status"], line["http_path"]) == (
        "ERROR",
        500,
        "/api/orders/o-1/fail",
    )
    assert line["trace_id"] == response["X-Trace-Id"]


def test_health_checks_and_scrapes_leave_no_line(client: Client, json_log: LogLines) -> None:
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert client.get(path).status_code == 200, path

    assert http_lines(json_log) == []
