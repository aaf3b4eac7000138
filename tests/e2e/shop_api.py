"""The shop's public API over HTTP, as a client of the front door uses it, and the saga scenario
that must end the same in every topology."""

from typing import Any

import httpx

from modulith.testing import wait_until

API_KEY = "dev-api-key"
FINAL_TIMEOUT = 30.0


def client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"X-API-Key": API_KEY}, timeout=10)


def stock(api: httpx.Client, sku: str, quantity: int, price: str = "10.00") -> Any:
    body = {"sku": sku, "name": f"Product {sku}", "unitPrice": price, "currency": "EUR"}
    response = api.post("/api/inventory/products", json={**body, "quantity": quantity})
    assert response.status_code == 201, response.text
    return response.json()


def product(api: httpx.Client, sku: str) -> Any:
    response = api.get(f"/api/inventory/products/{sku}")
    assert response.status_code == 200, response.text
    return response.json()


# Where orders are placed: the sync view, or its async twin.
ORDERS = "/api/orders"
ASYNC_ORDERS = "/api/orders/async"


def place(
    api: httpx.Client,
    *lines: tuple[str, int],
    token: str | None = None,
    customer: str = "c-1",
    at: str = ORDERS,
) -> httpx.Response:
    body: dict[str, Any] = {
        "customerId": customer,
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
    }
    if token:
        body["paymentToken"] = token
    return api.post(at, json=body)


def placed(
    api: httpx.Client, *lines: tuple[str, int], token: str | None = None, at: str = ORDERS
) -> str:
    response = place(api, *lines, token=token, at=at)
    assert response.status_code == 201, response.text
    return str(response.json()["orderId"])


def order(api: httpx.Client, order_id: str) -> Any:
    response = api.get(f"/api/orders/{order_id}")
    assert response.status_code == 200, response.text
    return response.json()


def payments(api: httpx.Client, order_id: str) -> Any:
    """The order's payments (one page holds them: one payment an order)."""
    response = api.get("/api/payments", params={"orderId": order_id})
    assert response.status_code == 200, response.text
    assert response.json()["next"] is None, response.text
    return response.json()["items"]


def final(api: httpx.Client, order_id: str) -> Any:
    return wait_until(
        lambda: order(api, order_id),
        lambda found: found["status"] != "PENDING",
        awaiting=f"order {order_id} to leave PENDING",
        timeout=FINAL_TIMEOUT,
    )


def settled(api: httpx.Client, *skus: str) -> dict[str, tuple[int, int]]:
    """Stock once no reservation is pending: (on hand, reserved) per SKU."""
    stocked = wait_until(
        lambda: {sku: product(api, sku) for sku in skus},
        lambda products: all(found["reserved"] == 0 for found in products.values()),
        awaiting=f"the reservations of {', '.join(skus)} to be settled",
        timeout=FINAL_TIMEOUT,
    )
    return {sku: (found["onHand"], found["reserved"]) for sku, found in stocked.items()}


# The saga: a paid order, a declined payment, an order for more than there is.
SAGA_OUTCOME = {
    "orders": {
        "paid": ("CONFIRMED", None),
        "declined": ("CANCELLED", "PAYMENT_DECLINED"),
        "out of stock": ("CANCELLED", "OUT_OF_STOCK"),
    },
    "stock": {"KB-1": (3, 0), "LAMP": (1, 0)},
    "payments": {"paid": ["CAPTURED"], "declined": ["DECLINED"], "out of stock": []},
}


def saga(api: httpx.Client, at: str = ORDERS) -> dict[str, Any]:
    """Runs the saga through the public API, placing the orders `at` the sync view or the async
    one, and returns how it ended (see SAGA_OUTCOME)."""
    stock(api, "KB-1", 5)
    stock(api, "LAMP", 1)
    orders = {
        "paid": placed(api, ("KB-1", 2), at=at),
        "declined": placed(api, ("KB-1", 1), token="tok_chargeDeclined", at=at),
        "out of stock": placed(api, ("LAMP", 2), at=at),
    }
    ended = {name: final(api, order_id) for name, order_id in orders.items()}
    return {
        "orders": {name: (o["status"], o["cancellationReason"]) for name, o in ended.items()},
        "stock": settled(api, "KB-1", "LAMP"),
        "payments": {
            name: [p["status"] for p in payments(api, order_id)]
            for name, order_id in orders.items()
        },
    }
