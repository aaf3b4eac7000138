"""Steps a test takes through the shop's public API, as a client would."""

from typing import Any
from uuid import UUID

from django.test import Client

from modulith.database.store.models import OutboxEvent
from modulith.testing import wait_until


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
    """The order's payments (one page holds them: one payment an order)."""
    response = client.get("/api/payments", {"orderId": str(order_id)})
    assert response.status_code == 200, response.content
    page = response.json()
    assert page["next"] is None, page
    return page["items"]


def published(module: str, event_name: str) -> list[dict[str, Any]]:
    """The data of every event of this name in the module's outbox, oldest first."""
    return [
        event.wire["detail"]["data"]
        for event in OutboxEvent.objects.using(module).filter(event_name=event_name)
    ]


def final(client: Client, order_id: str, timeout: float = 20) -> dict[str, Any]:
    """The order once it has left PENDING (waiting, bounded, for the saga to end)."""
    return dict(
        wait_until(
            lambda: order(client, order_id),
            lambda found: found["status"] != "PENDING",
            awaiting=f"order {order_id} to leave PENDING",
            timeout=timeout,
        )
    )


def run_the_saga(client: Client) -> None:
    """A paid order, a declined one, one out of stock: each ends as it should, however the
    modules are deployed and the events travel."""
    stock(client, "KB-1", 5)
    stock(client, "LAMP", 1)

    paid = place(client, ("KB-1", 2)).json()["orderId"]
    declined = place(client, ("KB-1", 1), token="tok_chargeDeclined").json()["orderId"]
    too_many = place(client, ("LAMP", 2)).json()["orderId"]

    assert final(client, paid)["status"] == "CONFIRMED"
    assert final(client, declined)["cancellationReason"] == "PAYMENT_DECLINED"
    assert final(client, too_many)["cancellationReason"] == "OUT_OF_STOCK"
    wait_until(
        lambda: product(client, "KB-1"),
        lambda kb1: kb1["reserved"] == 0,
        awaiting="KB-1's reservations to be taken off",
        timeout=10,
    )
    assert product(client, "KB-1")["onHand"] == 3
    assert product(client, "LAMP")["onHand"] == 1
    assert product(client, "LAMP")["reserved"] == 0
    assert [p["status"] for p in payments(client, paid)] == ["CAPTURED"]
    assert [p["status"] for p in payments(client, declined)] == ["DECLINED"]
    assert len(published("inventory", "StockReleased")) == 1
