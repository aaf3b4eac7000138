"""Placing orders over HTTP, orders on its own: bad input is refused with a message naming
the field, and nothing is stored; an Idempotency-Key makes a retried POST safe."""

from typing import Any

import pytest
from django.test import Client

from contracts.orders import OrderPlaced
from modules.orders.models import Order
from modulith.testing.scenario import Scenario
from tests.providers import Catalogue
from tests.shop import place

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["orders"]),
    pytest.mark.usefixtures("orders"),
]


def nothing_was_stored(orders: Scenario) -> bool:
    return not Order.objects.exists() and orders.published(OrderPlaced) == []


@pytest.fixture
def keyboard(catalogue: Catalogue) -> None:
    catalogue.add("KB-1")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"items": [{"sku": "KB-1", "quantity": 1}]}, "customerId", "is required"),
        (
            {"customerId": "c", "items": [{"sku": "KB-1", "quantity": 0}]},
            "items[0].quantity",
            "greater than or equal to 1",
        ),
        (
            {"customerId": "c", "items": [{"sku": "KB-1", "quantity": -3}]},
            "items[0].quantity",
            "greater than or equal to 1",
        ),
        (
            {"customerId": "c", "items": [{"sku": "KB-1", "quantity": "two"}]},
            "items[0].quantity",
            "valid integer",
        ),
        (
            {"customerId": "c", "items": [{"sku": "KB-1", "quantity": 1.5}]},
            "items[0].quantity",
            "valid integer",
        ),
        ({"customerId": "c", "items": [{"sku": "KB-1"}]}, "items[0].quantity", "is required"),
        ({"customerId": "c", "items": []}, "items", "at least 1 item"),
        ({"customerId": "c", "items": "KB-1"}, "items", "valid list"),
        ({"customerId": "c"}, "items", "is required"),
        (
            {"customerId": "", "items": [{"sku": "KB-1", "quantity": 1}]},
            "customerId",
            "at least 1 character",
        ),
        (
            {"customerId": ["c"], "items": [{"sku": "KB-1", "quantity": 1}]},
            "customerId",
            "valid string",
        ),
        (
            {"customerId": 42, "items": [{"sku": "KB-1", "quantity": 1}]},
            "customerId",
            "valid string",
        ),
        (
            {"customerId": "alice\u0000", "items": [{"sku": "KB-1", "quantity": 1}]},
            "customerId",
            "must not contain control or bidirectional formatting characters (found U+0000",
        ),
        (
            {"customerId": "alice\u202egnp.exe", "items": [{"sku": "KB-1", "quantity": 1}]},
            "customerId",
            "must not contain control or bidirectional formatting characters (found U+202E",
        ),
        (
            {"customerId": "c", "items": [{"sku": "KB\u20661", "quantity": 1}]},
            "items[0].sku",
            "(found U+2066 at position 2)",
        ),
        (
            {"customerId": "c", "items": [{"sku": "KB-1", "quantity": 1}], "paymentToken": "visa"},
            "paymentToken",
            "should match pattern",
        ),
        (
            {"customerId": "c", "items": [{"sku": "NOPE", "quantity": 1}]},
            "items[0].sku",
            "unknown SKU 'NOPE'",
        ),
        (
            {
                "customerId": "c",
                "items": [{"sku": "KB-1", "quantity": 1}, {"sku": "GONE", "quantity": 1}],
            },
            "items[1].sku",
            "unknown SKU 'GONE'",
        ),
    ],
)
@pytest.mark.usefixtures("keyboard")
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    orders: Scenario, client: Client, body: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/api/orders", body, content_type="application/json")

    assert response.status_code == 422, response.content
    problem = response.json()
    assert any(e["field"] == field and message in e["message"] for e in problem["errors"]), problem
    assert field in problem["message"]
    assert nothing_was_stored(orders)


@pytest.mark.parametrize("raw", ['{"customerId": "c", "items": [', "not json", "[1, 2"])
@pytest.mark.usefixtures("keyboard")
def test_malformed_json_is_a_400_and_nothing_is_stored(
    orders: Scenario, client: Client, raw: str
) -> None:
    response = client.post("/api/orders", raw, content_type="application/json")

    assert response.status_code == 400
    assert "parse request body" in response.json()["message"]
    assert nothing_was_stored(orders)


@pytest.mark.usefixtures("keyboard")
def test_a_json_array_instead_of_an_object_is_refused(orders: Scenario, client: Client) -> None:
    response = client.post("/api/orders", "[]", content_type="application/json")

    assert response.status_code == 422
    assert "customerId" in response.json()["message"]
    assert nothing_was_stored(orders)


@pytest.mark.parametrize("key", [None, "wrong-key"])
@pytest.mark.usefixtures("keyboard")
def test_placing_an_order_needs_a_valid_api_key(orders: Scenario, key: str | None) -> None:
    headers = {"X-API-Key": key} if key else {}
    response = place(Client(headers=headers), ("KB-1", 1))

    assert response.status_code == 401
    assert "X-API-Key" in response.json()["message"]
    assert nothing_was_stored(orders)


@pytest.mark.usefixtures("keyboard")
def test_a_repeat_with_the_same_idempotency_key_returns_the_same_order(
    orders: Scenario, client: Client
) -> None:
    first = place(client, ("KB-1", 1), **{"Idempotency-Key": "checkout-42"})
    again = place(client, ("KB-1", 1), **{"Idempotency-Key": "checkout-42"})

    assert first.status_code == again.status_code == 201
    assert again.json()["orderId"] == first.json()["orderId"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert len(orders.published(OrderPlaced)) == 1


@pytest.mark.usefixtures("keyboard")
def test_an_idempotency_key_reused_for_a_different_order_is_a_conflict(client: Client) -> None:
    place(client, ("KB-1", 1), **{"Idempotency-Key": "checkout-43"})
    response = place(client, ("KB-1", 2), **{"Idempotency-Key": "checkout-43"})

    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["message"]
    assert Order.objects.count() == 1


@pytest.mark.usefixtures("keyboard")
def test_different_idempotency_keys_make_different_orders(client: Client) -> None:
    one = place(client, ("KB-1", 1), **{"Idempotency-Key": "a"}).json()["orderId"]
    two = place(client, ("KB-1", 1), **{"Idempotency-Key": "b"}).json()["orderId"]

    assert one != two
    assert Order.objects.count() == 2


def test_an_unknown_order_is_a_404(client: Client) -> None:
    response = client.get("/api/orders/5b0d4bb1-8f0e-4a8e-9d0e-6f1d2c3b4a59")

    assert response.status_code == 404
    assert "5b0d4bb1-8f0e-4a8e-9d0e-6f1d2c3b4a59" in response.json()["message"]


def test_an_order_id_that_is_not_a_uuid_is_a_422(client: Client) -> None:
    response = client.get("/api/orders/not-a-uuid")

    assert response.status_code == 422
    assert "valid UUID" in response.json()["message"]


def test_listing_orders_needs_a_customer_id(client: Client) -> None:
    response = client.get("/api/orders")

    assert response.status_code == 422
    assert "customerId" in response.json()["message"]
