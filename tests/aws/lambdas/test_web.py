"""The web function, fed API Gateway HTTP API (payload 2.0) and ALB events: the same API,
errors and trace headers as under gunicorn, the health checks and one access log line per
request; deliveries after commit run before the answer."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from modulith.aws.lambdas import web
from tests.conftest import API_KEY
from tests.lambda_events import alb, context, http_api
from tests.modulith.observability.conftest import LogLines, json_log  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
Event = Callable[..., dict[str, Any]]
SHAPES = [pytest.param(http_api, id="http-api"), pytest.param(alb, id="alb")]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(event: dict[str, Any]) -> Answer:
    answer = web.handler(event, context())
    assert answer["isBase64Encoded"] is False, answer
    headers = {name.lower(): value for name, value in answer["headers"].items()}
    body = json.loads(answer["body"]) if answer["body"] else None
    return Answer(answer["statusCode"], headers, body)


def stock(shape: Event, sku: str, quantity: int) -> None:
    product = {"sku": sku, "name": sku, "unitPrice": "10.00", "currency": "EUR"}
    created = call(
        shape(
            "POST",
            "/api/inventory/products",
            body={**product, "quantity": quantity},
            headers={"X-API-Key": API_KEY},
        )
    )
    assert created.status == 201, created


@pytest.mark.parametrize("shape", SHAPES)
def test_an_order_placed_through_the_front_door_is_read_back_confirmed(shape: Event) -> None:
    stock(shape, "KB-1", 5)
    order = {"customerId": "c1", "items": [{"sku": "KB-1", "quantity": 2}]}

    placed = call(shape("POST", "/api/orders", body=order, headers={"X-API-Key": API_KEY}))

    assert placed.status == 201, placed
    assert placed.headers["content-type"] == "application/json; charset=utf-8"
    assert placed.body["status"] == "PENDING"
    keyed = {"X-API-Key": API_KEY}
    read = call(shape("GET", f"/api/orders/{placed.body['orderId']}", headers=keyed))
    assert read.status == 200, read
    # The saga ran inline before each answer: no thread is left to finish it on Lambda.
    assert read.body["status"] == "CONFIRMED"
    assert read.body["total"] == "20.00"
    listed = call(shape("GET", "/api/orders?customerId=c1", headers=keyed))
    assert [o["orderId"] for o in listed.body["items"]] == [placed.body["orderId"]]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_bad_request_is_refused_naming_the_field(shape: Event) -> None:
    stock(shape, "KB-1", 5)
    order = {"customerId": "c1", "items": [{"sku": "KB-1", "quantity": 0}]}

    refused = call(shape("POST", "/api/orders", body=order, headers={"X-API-Key": API_KEY}))

    assert refused.status == 422, refused
    assert "items[0].quantity" in refused.body["message"]
    assert [e["field"] for e in refused.body["errors"]] == ["items[0].quantity"]


@pytest.mark.parametrize("shape", SHAPES)
def test_writing_needs_an_api_key(shape: Event) -> None:
    order = {"customerId": "c1", "items": [{"sku": "KB-1", "quantity": 1}]}

    refused = call(shape("POST", "/api/orders", body=order))

    assert refused.status == 401
    assert "X-API-Key" in refused.body["message"]


def test_the_callers_traceparent_is_continued_and_returned() -> None:
    answer = call(
        http_api(
            "GET",
            "/api/inventory/products/NOPE",
            headers={"traceparent": TRACEPARENT, "X-API-Key": API_KEY},
        )
    )

    assert answer.status == 404
    traceparent = answer.headers["traceparent"]
    assert traceparent.startswith(f"00-{TRACE}-")
    assert traceparent != TRACEPARENT  # a span of its own
    assert answer.headers["x-trace-id"] == TRACE
    assert answer.headers["x-amzn-trace-id"].startswith(f"Root=1-{TRACE[:8]}-{TRACE[8:]};")


def test_the_load_balancers_x_ray_header_gives_the_trace() -> None:
    # alb() carries the header an ALB adds: Root=1-67891233-abcdef012345678912345678
    answer = call(alb("GET", "/api/inventory/products/NOPE", headers={"X-API-Key": API_KEY}))

    assert answer.headers["x-trace-id"] == "67891233abcdef012345678912345678"


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_the_health_checks_answer_through_the_load_balancer(path: str) -> None:
    answer = call(alb("GET", path))

    assert answer.status == 200, answer
    assert answer.body["status"] == "ok"


def test_each_request_leaves_one_access_line_with_the_invocations_request_id(
    json_log: LogLines,  # noqa: F811
) -> None:
    invocation = context()

    web.handler(
        http_api("GET", "/api/inventory/products/NOPE", headers={"X-API-Key": API_KEY}), invocation
    )

    [line] = [line for line in json_log() if line["logger"] == "modulith.http"]
    assert (line["http_path"], line["http_status"]) == ("/api/inventory/products/NOPE", 404)
    assert line["aws_request_id"] == invocation.aws_request_id
    assert line["module"] == "inventory"
