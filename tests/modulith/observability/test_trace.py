"""The trace of a request: the caller's (W3C traceparent, or X-Ray's X-Amzn-Trace-Id) or a new
one, returned in the response headers and stored with every event of the saga."""

import time

import pytest
from django.test import Client

from modulith.database.store.models import OutboxEvent
from modulith.observability.trace import (
    new_traceparent,
    parse_traceparent,
    traceparent_from_xray,
    xray_header,
)
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

XRAY_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
XRAY_TRACE = "5759e988bd862e3fe1be46a994272793"


def traces_in_outboxes() -> dict[str, set[str]]:
    return {
        alias: {event.trace_id for event in OutboxEvent.objects.using(alias)}
        for alias in ("orders", "inventory", "payments")
    }


def metadata_traceparents() -> set[str]:
    return {
        event.wire["detail"]["metadata"]["traceparent"]
        for alias in ("orders", "inventory", "payments")
        for event in OutboxEvent.objects.using(alias)
    }


def test_an_incoming_x_ray_header_gives_the_trace_of_the_response_and_every_event(
    client: Client,
) -> None:
    stock(client, "KB-1", 5)

    response = place(
        client, ("KB-1", 1), **{"X-Amzn-Trace-Id": f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8"}
    )

    assert response.status_code == 201
    assert response.headers["X-Trace-Id"] == XRAY_TRACE
    assert response.headers["traceparent"].startswith(f"00-{XRAY_TRACE}-")
    assert response.headers["X-Amzn-Trace-Id"].startswith(f"Root={XRAY_ROOT};Parent=")
    assert traces_in_outboxes() == {alias: {XRAY_TRACE} for alias in traces_in_outboxes()}
    assert {parse_traceparent(value) for value in metadata_traceparents()} == {XRAY_TRACE}


def test_a_traceparent_wins_over_an_x_ray_header(client: Client) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"

    response = client.get(
        "/api/orders?customerId=nobody",
        headers={
            "traceparent": f"00-{trace}-00f067aa0ba902b7-01",
            "X-Amzn-Trace-Id": f"Root={XRAY_ROOT}",
        },
    )

    assert response.headers["X-Trace-Id"] == trace


def test_without_a_trace_a_request_starts_one_that_x_ray_accepts_too(client: Client) -> None:
    stock(client, "KB-1", 5)

    response = place(client, ("KB-1", 1))

    trace = response.headers["X-Trace-Id"]
    assert len(trace) == 32
    assert abs(int(trace[:8], 16) - time.time()) < 60  # X-Ray: epoch seconds first
    assert response.headers["X-Amzn-Trace-Id"].startswith(f"Root=1-{trace[:8]}-{trace[8:]};")
    assert traces_in_outboxes() == {alias: {trace} for alias in traces_in_outboxes()}


def test_an_invalid_traceparent_starts_a_new_trace(client: Client) -> None:
    for invalid in (
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "not a traceparent",
    ):
        response = client.get("/api/orders?customerId=nobody", headers={"traceparent": invalid})
        assert response.headers["X-Trace-Id"] not in invalid


def test_x_ray_and_w3c_headers_convert_both_ways() -> None:
    traceparent = traceparent_from_xray(f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=1")

    assert traceparent == f"00-{XRAY_TRACE}-53995c3f42cd8ad8-01"
    assert xray_header(traceparent) == f"Root={XRAY_ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    assert traceparent_from_xray(f"Root={XRAY_ROOT};Sampled=0") is not None
    assert parse_traceparent(traceparent_from_xray(f"Root={XRAY_ROOT}")) == XRAY_TRACE
    assert traceparent_from_xray("Root=2-5759e988-bd862e3fe1be46a994272793") is None
    assert traceparent_from_xray("Self=1-5759e988-bd862e3fe1be46a994272793") is None
    assert traceparent_from_xray(None) is None
    assert parse_traceparent(new_traceparent()) is not None
