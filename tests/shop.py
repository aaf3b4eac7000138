"""Steps a test takes through the shop's public API, as a client would."""

from typing import Any
from uuid import UUID

from django.test import Client

from modulith.outbox.models import OutboxEvent


def stock(client: Client, sku: str, quantity: int, price: str = "10.00", **extra: Any) -> Any:
    body = {
        "sku": sku,
        "name": f"Product {sku}",
        "unitPrice": price,
        "currency": "EUR",
        "quantity": quantity,
        **extra,
    }
    response = client.post("/api/inventory/products", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def product(client: Client, sku: str) -> Any:
    response = client.get(f"/api/inventory/products/{sku}")
    assert response.status_code == 200, response.content
    return response.json()


def place(
    client: Client,
    *lines: tuple[str, int],
    token: str | None = None,
    customer: str = "customer-1",
    **headers: str,
) -> Any:
    body: dict[str, Any] = {
        "customerId": customer,
        "items": [{"sku": sku, "quantity": qty} for sku, qty in lines],
    }
    if token:
        body["paymentToken"] = token
    return client.post("/api/orders", body, content_type="application/json", headers=headers)


def order(client: Client, order_id: str | UUID) -> Any:
    response = client.get(f"/api/orders/{order_id}")
    assert response.status_code == 200, response.content
    return response.json()


def payments(client: Client, order_id: str | UUID) -> Any:
    response = client.get("/api/payments", {"orderId": str(order_id)})
    assert response.status_code == 200, response.content
    return response.json()


def published(module: str, event_name: str) -> list[dict[str, Any]]:
    """The data of every event of this name in the module's outbox, oldest first."""
    return [
        event.wire["detail"]["data"]
        for event in OutboxEvent.objects.using(module).filter(event_name=event_name)
    ]
