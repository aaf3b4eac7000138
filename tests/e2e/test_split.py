"""End to end, through nginx as the front door: the same requests end the same whether the shop
runs as the monolith or split into three services with queues between them, and the split
holds up when a service or a consumer is down.

Each test starts its processes (see conftest.py) and stops them by PID."""

import time
from typing import Any

import boto3
import httpx
import pytest

from modules.orders.models import Order
from modulith.conf.keys import SigningKeys
from modulith.database.store.models import InboxRecord, OutboxEvent
from modulith.models import CallNonce
from modulith.ports.remote.signing import NONCE, SIGNATURE, TIMESTAMP, Signer
from modulith.testing import wait_until
from tests.e2e.conftest import SECRET, Shop
from tests.e2e.shop_api import (
    SAGA_OUTCOME,
    final,
    order,
    payments,
    place,
    placed,
    product,
    saga,
    settled,
    stock,
)

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

SPLIT = pytest.mark.parametrize("shop", ["eventbridge"], indirect=True)
PRICES = "/internal/inventory/InventoryQueries/prices"
BUDGET_SECONDS = 5.0  # a refused order answers well within this when inventory is down


@pytest.mark.parametrize("shop", ["monolith", "eventbridge", "sqs", "sns"], indirect=True)
def test_the_saga_ends_the_same_in_the_monolith_and_in_the_split(shop: Shop) -> None:
    with shop.api() as api:
        assert saga(api) == SAGA_OUTCOME


@SPLIT
def test_internal_calls_need_a_fresh_valid_signature_and_refused_ones_change_nothing(
    shop: Shop,
) -> None:
    with shop.api() as api:
        stock(api, "KB-1", 5)
    inventory = shop.services["inventory"].url
    body = b'{"skus": ["KB-1"]}'
    signer = Signer(SigningKeys.single(SECRET))
    signed = signer.headers("POST", PRICES, body, "orders")
    forged = {**signed, SIGNATURE: "0" * 64, NONCE: "another-nonce-of-ours"}
    stale = signer.headers("POST", PRICES, body, "orders") | {TIMESTAMP: "1700000000"}
    other_secret = Signer(SigningKeys.single("not-the-secret")).headers(
        "POST", PRICES, body, "orders"
    )

    def call(headers: dict[str, str]) -> httpx.Response:
        return httpx.post(inventory + PRICES, content=body, headers=headers, timeout=5)

    assert httpx.post(shop.url + PRICES, content=body, timeout=5).status_code == 404
    refused = [call(h).status_code for h in ({}, forged, stale, other_secret)]
    assert refused == [401, 401, 401, 401]
    # Nonces live in a table of Django's own database, which the services share: none taken yet.
    nonces = [h[NONCE] for h in (signed, forged, stale, other_secret)]
    taken = CallNonce.objects.using("default").filter(nonce__in=nonces)
    assert not taken.exists()

    answered = call(signed)
    assert answered.status_code == 200, answered.text
    assert answered.json()[0]["sku"] == "KB-1"
    assert call(signed).status_code == 401  # the same signature again: a replay
    assert list(taken.values_list("nonce", flat=True)) == [signed[NONCE]]
    with shop.api() as api:
        assert product(api, "KB-1")["onHand"] == 5


@SPLIT
def test_with_inventory_down_an_order_is_refused_in_time_and_nothing_is_stored(
    shop: Shop,
) -> None:
    api = shop.api()
    stock(api, "KB-1", 5)
    shop.services["inventory"].stop()

    started = time.monotonic()
    refused = place(api, ("KB-1", 1), customer="while-down")
    elapsed = time.monotonic() - started

    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "provider_unavailable"
    assert elapsed < BUDGET_SECONDS
    assert api.get("/api/orders", params={"customerId": "while-down"}).json()["items"] == []
    assert Order.objects.count() == 0
    assert OutboxEvent.objects.using("orders").count() == 0

    shop.services["inventory"].start(timeout=60)  # the same port
    assert final(api, placed(api, ("KB-1", 1)))["status"] == "CONFIRMED"
    api.close()


@SPLIT
def test_a_consumer_stopped_while_events_are_published_handles_each_once_on_restart(
    shop: Shop,
) -> None:
    api = shop.api()
    stock(api, "KB-1", 10)
    assert shop.consumers["inventory"].stop() == 0

    orders = [placed(api, ("KB-1", 1)) for _ in range(3)]
    orders.append(placed(api, ("KB-1", 2), token="tok_chargeDeclined"))
    wait_until_waiting_in_queue(shop, "inventory", len(orders))
    assert {order(api, order_id)["status"] for order_id in orders} == {"PENDING"}

    shop.restart_consumer("inventory")
    ended = [final(api, order_id) for order_id in orders]

    assert [o["status"] for o in ended] == ["CONFIRMED"] * 3 + ["CANCELLED"]
    assert settled(api, "KB-1") == {"KB-1": (7, 0)}
    assert [len(payments(api, order_id)) for order_id in orders] == [1, 1, 1, 1]
    handled = InboxRecord.objects.using("inventory").filter(event_name="OrderPlaced")
    assert handled.count() == len(orders)
    reserved = OutboxEvent.objects.using("inventory").filter(event_name="StockReserved")
    assert reserved.count() == len(orders)
    api.close()


def wait_until_waiting_in_queue(shop: Shop, module: str, count: int) -> None:
    """Until the events reached the module's queue while nobody consumed it."""
    sqs: Any = boto3.client(
        "sqs",
        endpoint_url=shop.aws["AWS_ENDPOINT_URL"],
        region_name=shop.aws["AWS_DEFAULT_REGION"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    queue = sqs.get_queue_url(QueueName=f"{shop.aws['MODULITH_QUEUE_PREFIX']}-{module}")

    def waiting() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    wait_until(
        waiting,
        lambda messages: messages >= count,
        awaiting=f"{count} messages waiting on {module}'s queue",
        timeout=15,
        interval=0.1,
    )
