"""The shop under an ASGI server (uvicorn, serving config.asgi), its orders placed through the
async view: the saga ends as under WSGI, and an async view whose transaction rolls back
publishes nothing, while the requests beside it publish theirs, once each."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modules.orders.models import Order
from modulith.database.store.models import Delivery, DeliveryStatus, OutboxEvent
from modulith.testing import wait_until
from tests.e2e.shop_api import (
    ASYNC_ORDERS,
    SAGA_OUTCOME,
    client,
    final,
    order,
    place,
    saga,
    stock,
)
from tests.service import Service

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

# An order of a line or two fits; one of LINES lines makes an OrderPlaced larger than this, so
# publishing it fails inside the async view's transaction, after the order and its lines were
# written: they roll back, and the event with them.
MAX_EVENT_BYTES = 1500
LINES = 40


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[httpx.Client]:
    """The monolith under uvicorn, as deployed: deliveries on its threads, its embedded relay
    sweeping."""
    with (
        Service(
            tmp_path,
            "asgi",
            asgi=True,
            MODULITH_MAX_EVENT_BYTES=str(MAX_EVENT_BYTES),
            MODULITH_RELAY_INTERVAL="0.5",
        ) as web,
        client(web.url) as api,
    ):
        yield api
        # The only failures logged: the oversized events of the rollback test.
        failures = [line for line in web.output().splitlines() if "Traceback" in line]
        assert all("EventTooLarge: OrderPlaced" in line for line in failures), web.output()


def test_the_saga_through_the_async_view_ends_as_under_wsgi(shop: httpx.Client) -> None:
    assert saga(shop, at=ASYNC_ORDERS) == SAGA_OUTCOME
    assert OutboxEvent.objects.using("orders").filter(event_name="OrderPlaced").count() == 3


def test_the_async_view_answers_as_the_sync_one(shop: httpx.Client) -> None:
    stock(shop, "KB-1", 5)
    key = {"Idempotency-Key": "checkout-7"}

    placed = shop.post(ASYNC_ORDERS, json=_order_of_two(), headers=key)
    replayed = shop.post(ASYNC_ORDERS, json=_order_of_two(), headers=key)
    unknown = place(shop, ("NOPE", 1), at=ASYNC_ORDERS)

    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["items"] == [{"sku": "KB-1", "quantity": 2, "unitPrice": "10.00"}]
    assert body["total"] == "20.00"
    assert body.keys() == order(shop, body["orderId"]).keys()
    assert shop.get(f"{ASYNC_ORDERS}/{body['orderId']}").json()["orderId"] == body["orderId"]
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["orderId"] == body["orderId"]
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [{"field": "items[0].sku", "message": "unknown SKU 'NOPE'"}]
    assert final(shop, body["orderId"])["status"] == "CONFIRMED"
    assert OutboxEvent.objects.using("orders").filter(event_name="OrderPlaced").count() == 1


def _order_of_two() -> dict[str, object]:
    return {"customerId": "c-1", "items": [{"sku": "KB-1", "quantity": 2}]}


def test_an_async_view_whose_transaction_rolls_back_publishes_nothing_and_loses_nothing(
    shop: httpx.Client,
) -> None:
    stock(shop, "KB-1", 50)
    # Requests at once, each in its own transaction on its own thread: the oversized ones roll
    # back while the others commit.
    requests = [("fits", 1) if n % 2 else ("too large", LINES) for n in range(8)]

    def attempt(request: tuple[str, int]) -> tuple[str, httpx.Response]:
        kind, lines = request
        return kind, place(shop, *[("KB-1", 1)] * lines, customer=kind, at=ASYNC_ORDERS)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        answers = list(pool.map(attempt, requests))

    committed = [answer.json()["orderId"] for kind, answer in answers if kind == "fits"]
    assert [a.status_code for kind, a in answers if kind == "fits"] == [201] * 4
    assert [a.status_code for kind, a in answers if kind == "too large"] == [500] * 4
    assert [final(shop, order_id)["status"] for order_id in committed] == ["CONFIRMED"] * 4
    assert Order.objects.filter(customer_id="too large").count() == 0
    placed_events = OutboxEvent.objects.using("orders").filter(event_name="OrderPlaced")
    assert sorted(event.wire["detail"]["data"]["orderId"] for event in placed_events) == sorted(
        committed
    )
    wait_until(
        # Each confirmed order's payment deadline is cancelled, never delivered.
        lambda: (
            Delivery.objects.using("orders")
            .exclude(status__in=(DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED))
            .count()
        ),
        lambda undelivered: undelivered == 0,
        awaiting="every committed event's delivery",
        timeout=15,
    )
