"""Reads are scoped: every operation of the public API needs a key (the OpenAPI schema says so,
operation by operation), and every listing comes a page at a time, capped, in a stable order,
with the URL of the next page; a forged cursor is the client's error, never the server's."""

import base64
import json
from typing import Any

import pytest
from django.test import Client

from modulith.http.pagination import MAX_PAGE_SIZE
from tests.shop import place, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

READS = [
    "/api/orders?customerId=alice",
    "/api/orders/{order_id}",
    "/api/payments?orderId={order_id}",
    "/api/inventory/products",
    "/api/inventory/products/KB-1",
]


@pytest.fixture
def order_id(client: Client) -> str:
    stock(client, "KB-1", 10)
    return str(place(client, ("KB-1", 1), customer="alice").json()["orderId"])


def test_every_operation_of_the_openapi_schema_needs_the_api_key(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()

    operations = {
        f"{method.upper()} {path}": operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert len(operations) == 9, sorted(operations)
    assert {name: op.get("security") for name, op in operations.items()} == {
        name: [{"ApiKey": []}] for name in operations
    }
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }


@pytest.mark.parametrize("path", READS)
def test_no_read_answers_without_a_key(
    client: Client, anonymous_client: Client, order_id: str, path: str
) -> None:
    url = path.format(order_id=order_id)

    refused = anonymous_client.get(url)
    wrong = anonymous_client.get(url, headers={"X-API-Key": "guessed"})

    assert refused.status_code == wrong.status_code == 401
    assert refused.json()["message"] == "send a valid X-API-Key header"
    assert order_id not in refused.content.decode()
    assert client.get(url).status_code == 200


def test_a_customers_orders_come_newest_first_a_page_at_a_time_each_once(
    client: Client,
) -> None:
    stock(client, "KB-1", 20)
    placed = [place(client, ("KB-1", 1), customer="alice").json()["orderId"] for _ in range(5)]
    place(client, ("KB-1", 1), customer="bob")

    first = client.get("/api/orders", {"customerId": "alice", "limit": "2"}).json()
    newer = place(client, ("KB-1", 1), customer="alice").json()["orderId"]  # while paging
    pages = [first]
    while pages[-1]["next"] and len(pages) < 10:
        pages.append(client.get(pages[-1]["next"]).json())

    seen = [order["orderId"] for page in pages for order in page["items"]]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert seen == placed[::-1]  # newest first; the one placed meanwhile is on no later page
    assert newer not in seen
    assert all("customerId=alice" in page["next"] for page in pages[:-1])


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_PAGE_SIZE + 1), "many"])
def test_a_page_size_out_of_bounds_is_refused_naming_it(client: Client, limit: str) -> None:
    response = client.get("/api/inventory/products", {"limit": limit})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"


def test_the_largest_page_is_the_cap(client: Client) -> None:
    for index in range(MAX_PAGE_SIZE + 1):
        stock(client, f"SKU-{index:03}", 1)

    page = client.get("/api/inventory/products", {"limit": MAX_PAGE_SIZE}).json()
    default = client.get("/api/inventory/products").json()

    assert len(page["items"]) == MAX_PAGE_SIZE
    assert page["next"] is not None
    assert len(default["items"]) == 20


def cursor_of(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        cursor_of({"p": "2024-01-01"}),
        cursor_of(["2024-01-01T00:00:00+00:00"]),  # one value, two expected
        cursor_of(["yesterday", "5b0d4bb1-8f0e-4a8e-9d0e-6f1d2c3b4a59"]),
        cursor_of(["2024-01-01T00:00:00+00:00", "not-a-uuid"]),
        cursor_of(["", "5b0d4bb1-8f0e-4a8e-9d0e-6f1d2c3b4a59"]),
        cursor_of([1, 2]),
        cursor_of([[[[]]], {}]),
    ],
)
def test_a_forged_cursor_is_a_422_naming_the_cursor(client: Client, cursor: str) -> None:
    response = client.get("/api/orders", {"customerId": "alice", "cursor": cursor})

    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [
        {
            "field": "cursor",
            "message": "is not a cursor of this listing: use the `next` URL of a page, "
            "or start again without a cursor",
        }
    ]


def test_a_cursor_longer_than_any_the_api_gives_is_refused(client: Client) -> None:
    response = client.get("/api/orders", {"customerId": "alice", "cursor": "A" * 10_000})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"
