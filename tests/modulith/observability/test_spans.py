"""OpenTelemetry spans for HTTP requests, publishing, delivery and internal calls, with the
module and event as attributes, in the trace the framework carries (so logs and spans agree)."""

import json
import time
from typing import Any

import httpx
import pytest
from django.test import Client

from contracts.inventory import InventoryQueries
from modulith.conf.keys import SigningKeys
from modulith.database.store.models import OutboxEvent
from modulith.ports.remote.breaker import CircuitBreaker
from modulith.ports.remote.client import RemoteCaller, remote_port
from modulith.ports.remote.discovery import StaticDiscovery
from modulith.ports.remote.signing import Signer
from tests.processes import run_python
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SECRET = "span-test-secret"


def by_name(spans: Any) -> dict[str, list[Any]]:
    named: dict[str, list[Any]] = {}
    for span in spans.get_finished_spans():
        named.setdefault(span.name, []).append(span)
    return named


def hex_trace(span: Any) -> str:
    return f"{span.context.trace_id:032x}"


def hex_span(span: Any) -> str:
    return f"{span.context.span_id:016x}"


def test_an_order_makes_spans_in_the_request_trace(client: Client, spans: Any) -> None:
    from opentelemetry.trace import SpanKind

    stock(client, "KB-1", 5)
    spans.clear()

    response = place(client, ("KB-1", 1), traceparent=f"00-{TRACE}-{CALLER_SPAN}-01")

    named = by_name(spans)
    [request] = named["POST /api/orders"]
    assert request.kind == SpanKind.SERVER
    assert hex_trace(request) == TRACE
    assert f"{request.parent.span_id:016x}" == CALLER_SPAN
    assert request.attributes["modulith.module"] == "orders"
    assert request.attributes["http.response.status_code"] == 201
    # The traceparent returned (and logged) is the request span's own.
    assert response.headers["traceparent"] == f"00-{TRACE}-{hex_span(request)}-01"
    assert {hex_trace(span) for span in spans.get_finished_spans()} == {TRACE}

    [published] = named["publish OrderPlaced"]
    [delivered] = named["deliver OrderPlaced"]
    stored = OutboxEvent.objects.using("orders").get(event_name="OrderPlaced")
    assert published.kind == SpanKind.PRODUCER
    assert published.parent.span_id == request.context.span_id
    assert dict(published.attributes) == {
        "modulith.module": "orders",
        "modulith.event": "OrderPlaced",
        "modulith.event_id": str(stored.id),
    }
    assert stored.wire["detail"]["metadata"]["traceparent"] == (
        f"00-{TRACE}-{hex_span(published)}-01"
    )
    assert delivered.kind == SpanKind.CONSUMER
    assert delivered.parent.span_id == published.context.span_id
    assert dict(delivered.attributes) == {
        "modulith.module": "inventory",
        "modulith.event": "OrderPlaced",
        "modulith.event_id": str(stored.id),
    }
    delivered_to = {
        (name, span.attributes["modulith.module"])
        for name, found in named.items()
        if name.startswith("deliver ")
        for span in found
    }
    assert delivered_to == {
        ("deliver OrderPlaced", "inventory"),
        ("deliver StockReserved", "payments"),
        ("deliver PaymentCaptured", "orders"),
        ("deliver OrderConfirmed", "inventory"),
    }


def test_a_request_without_a_trace_starts_one_that_spans_and_headers_share(
    client: Client, spans: Any
) -> None:
    response = client.get("/api/orders?customerId=nobody")

    [request] = by_name(spans)["GET /api/orders"]
    assert request.parent is None
    assert response.headers["X-Trace-Id"] == hex_trace(request)


def test_a_failing_handler_marks_its_delivery_span_as_failed(spans: Any) -> None:
    from uuid import uuid4

    from opentelemetry.trace import StatusCode

    from tests.modulith.test_delivery import capture_payment_for

    capture_payment_for(uuid4())  # orders has no such order

    [delivered] = by_name(spans)["deliver PaymentCaptured"]
    assert delivered.status.status_code == StatusCode.ERROR
    assert any(event.name == "exception" for event in delivered.events)


def test_an_internal_call_has_a_client_span_and_the_provider_a_span_in_the_same_trace(
    client: Client, spans: Any, live_server: Any, settings: Any
) -> None:
    from opentelemetry.trace import SpanKind

    from modulith.observability.trace import trace_context

    settings.MODULITH_INTERNAL_SECRET = SECRET
    stock(client, "KB-1", 5, price="89.00")
    spans.clear()
    caller = RemoteCaller(
        provider="inventory",
        caller="orders",
        discovery=StaticDiscovery({"inventory": live_server.url}),
        signer=Signer(SigningKeys.single(SECRET)),
        http=httpx.Client(timeout=5),
        breaker=CircuitBreaker(),
    )

    with trace_context(f"00-{TRACE}-{CALLER_SPAN}-01"):
        prices = remote_port(InventoryQueries, caller).prices(["KB-1"])

    assert [price.sku for price in prices] == ["KB-1"]
    named = by_name(spans)
    [client_span] = [s for s in named["InventoryQueries.prices"] if s.kind == SpanKind.CLIENT]
    [served] = [s for s in named["InventoryQueries.prices"] if s.kind == SpanKind.INTERNAL]
    [request] = [s for name, found in named.items() if name.startswith("POST ") for s in found]
    assert request.name == "POST /internal/<path:target>"
    assert {hex_trace(client_span), hex_trace(served), hex_trace(request)} == {TRACE}
    assert client_span.attributes["modulith.module"] == "orders"
    assert client_span.attributes["modulith.provider"] == "inventory"
    assert request.parent.span_id == client_span.context.span_id
    assert request.attributes["modulith.module"] == "inventory"
    assert served.parent.span_id == request.context.span_id
    assert served.attributes["modulith.module"] == "inventory"
    assert served.attributes["modulith.caller"] == "orders"


PROBE = (
    "import django\n"
    "django.setup()\n"
    "from django.test import Client\n"
    "response = Client().get('/api/openapi.json')\n"
    "print(response.status_code, response.headers['X-Trace-Id'], flush=True)\n"
)


def test_switched_on_by_the_environment_spans_in_x_ray_ids_go_to_the_exporter() -> None:
    probe = run_python(
        PROBE, DJANGO_SETTINGS_MODULE="config.settings", OTEL_TRACES_EXPORTER="console"
    )

    assert probe.returncode == 0, probe.stderr
    status, trace = probe.stdout.splitlines()[0].split()
    assert status == "200"
    assert abs(int(trace[:8], 16) - time.time()) < 60  # an X-Ray trace id
    exported, _ = json.JSONDecoder().raw_decode(probe.stdout.split("\n", 1)[1].strip())
    assert exported["name"] == "GET /api/openapi.json"
    assert exported["context"]["trace_id"] == f"0x{trace}"
    assert exported["resource"]["attributes"]["service.name"] == "modulith"
