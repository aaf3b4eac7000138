"""The catalogue over HTTP, inventory on its own: products are created, restocked and read;
bad input is refused."""

from typing import Any

import pytest
from django.test import Client

from modules.inventory.models import Product
from tests.shop import product, stock

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["inventory"]),
    pytest.mark.usefixtures("inventory"),
]


def test_a_new_product_has_its_quantity_on_hand(client: Client) -> None:
    created = stock(client, "KB-1", 7, price="89.90")

    assert created == {
        "sku": "KB-1",
        "name": "Product KB-1",
        "unitPrice": "89.90",
        "currency": "EUR",
        "onHand": 7,
        "reserved": 0,
        "available": 7,
    }
    assert product(client, "KB-1") == created


def test_posting_an_existing_product_restocks_it(client: Client) -> None:
    stock(client, "KB-1", 7)

    restocked = stock(client, "KB-1", 3, price="79.00")

    assert restocked["onHand"] == 10
    assert restocked["unitPrice"] == "79.00"
    assert Product.objects.count() == 1


def test_products_are_listed_by_sku_a_page_at_a_time(client: Client) -> None:
    for sku in ("C-3", "A-1", "B-2"):
        stock(client, sku, 1)

    first = client.get("/api/inventory/products", {"limit": 2}).json()
    second = client.get(first["next"]).json()

    assert [p["sku"] for p in first["items"]] == ["A-1", "B-2"]
    assert [p["sku"] for p in second["items"]] == ["C-3"]
    assert second["next"] is None


@pytest.mark.parametrize("path", ["/api/inventory/products", "/api/inventory/products/KB-1"])
def test_reading_the_catalogue_needs_an_api_key(
    client: Client, anonymous_client: Client, path: str
) -> None:
    stock(client, "KB-1", 5)

    refused = anonymous_client.get(path)

    assert refused.status_code == 401
    assert "X-API-Key" in refused.json()["message"]
    assert client.get(path).status_code == 200


def test_an_unknown_product_is_a_404(client: Client) -> None:
    response = client.get("/api/inventory/products/NOPE")

    assert response.status_code == 404
    assert "NOPE" in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": "3"}, "quantity"),
        ({"unitPrice": "-1.00"}, "unitPrice"),
        ({"unitPrice": "1.234"}, "unitPrice"),
        ({"unitPrice": "cheap"}, "unitPrice"),
        ({"currency": "euro"}, "currency"),
        ({"sku": ""}, "sku"),
        ({"sku": "has space"}, "sku"),
        ({"name": None}, "name"),
        ({"name": "Key\nboard"}, "name"),
        ({"name": "Key\u202eboard"}, "name"),
        ({"name": 7}, "name"),
    ],
)
def test_bad_product_input_is_refused_naming_the_field(
    client: Client, change: dict[str, Any], field: str
) -> None:
    body = {
        "sku": "KB-1",
        "name": "Keyboard",
        "unitPrice": "10.00",
        "currency": "EUR",
        "quantity": 1,
        **change,
    }

    response = client.post("/api/inventory/products", body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert field in response.json()["message"]
    assert not Product.objects.exists()


def test_restocking_in_another_currency_is_refused(client: Client) -> None:
    stock(client, "KB-1", 1)

    response = client.post(
        "/api/inventory/products",
        {"sku": "KB-1", "name": "Keyboard", "unitPrice": "10.00", "currency": "USD", "quantity": 1},
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "currency" in response.json()["message"]
    assert product(client, "KB-1")["onHand"] == 1


def test_stocking_needs_an_api_key(anonymous_client: Client) -> None:
    response = anonymous_client.post(
        "/api/inventory/products",
        {"sku": "KB-1", "name": "K", "unitPrice": "1.00", "currency": "EUR", "quantity": 1},
        content_type="application/json",
    )

    assert response.status_code == 401
    assert not Product.objects.exists()
