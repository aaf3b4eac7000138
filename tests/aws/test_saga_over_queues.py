"""The saga over real queues: flipping MODULITH_TRANSPORT changes nothing in module code.

The test process is the web tier (it places orders and relays their events); each module's
consumer is a separate `manage.py consume` process, as in a split deployment.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.test import Client

from modules.inventory.models import Reservation
from tests.aws.cli import aws_cli
from tests.aws.consumers import ConsumerProcess
from tests.aws.emulator import AwsContext
from tests.conftest import wait_until
from tests.shop import place, product, published, run_the_saga, stock

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.slow]

MODULES = ("orders", "inventory", "payments")


@pytest.fixture(params=["sqs", "eventbridge"])
def transport(request: pytest.FixtureRequest, aws: AwsContext, settings: Any) -> str:
    settings.MODULITH_TRANSPORT = request.param
    settings.MODULITH_VISIBILITY_TIMEOUT = 3
    call_command("provision")
    return str(request.param)


@pytest.fixture
def consumer_env(aws: AwsContext, transport: str) -> dict[str, str]:
    return {
        **aws.env,
        "MODULITH_TRANSPORT": transport,
        "MODULITH_ASYNC_HANDLERS": "inline",
        "MODULITH_VISIBILITY_TIMEOUT": "3",
        "MODULITH_RETRY_BASE_SECONDS": "0.5",
    }


@pytest.fixture
def consumers(tmp_path: Path, consumer_env: dict[str, str]) -> Iterator[list[ConsumerProcess]]:
    started = [ConsumerProcess(tmp_path, module, **consumer_env) for module in MODULES]
    try:
        for consumer in started:
            consumer.start()
        yield started
    finally:
        for consumer in started:
            consumer.stop()


@pytest.mark.usefixtures("consumers")
def test_the_saga_completes_over_queues(client: Client, transport: str) -> None:
    run_the_saga(client)


def test_a_consumer_killed_while_handling_a_message_loses_nothing_and_doubles_nothing(
    client: Client, tmp_path: Path, consumer_env: dict[str, str], aws: AwsContext
) -> None:
    stock(client, "KB-1", 5)
    sqs = aws.client("sqs")
    queue = sqs.get_queue_url(QueueName=f"{aws.prefix}-inventory")["QueueUrl"]
    doomed = ConsumerProcess(tmp_path, "inventory", **consumer_env)
    with transaction.atomic(using="inventory"):
        _hold_inventory_writes()  # the consumer's handler will wait on this lock
        doomed.start()
        placed = place(client, ("KB-1", 2)).json()["orderId"]
        assert wait_until(lambda: _in_flight(sqs, queue) == 1, timeout=10)
        time.sleep(0.5)  # it is inside the handler, waiting for the lock
        doomed.kill()
    assert Reservation.objects.filter(order_id=placed).count() == 0

    with ConsumerProcess(tmp_path, "inventory", **consumer_env):  # after the visibility timeout
        assert wait_until(
            lambda: Reservation.objects.filter(order_id=placed).count() == 1, timeout=15
        )
        time.sleep(1)

    assert Reservation.objects.filter(order_id=placed).count() == 1
    assert product(client, "KB-1")["reserved"] == 2
    assert [e["orderId"] for e in published("inventory", "StockReserved")] == [placed]


def test_events_from_a_foreign_producer_are_handled_and_bad_ones_dead_lettered(
    client: Client, tmp_path: Path, consumer_env: dict[str, str], aws: AwsContext
) -> None:
    stock(client, "MS-2", 3, price="29.50")
    order_id = str(uuid4())
    good = {
        "orderId": order_id,
        "customerId": "partner-7",
        "currency": "EUR",
        "total": "59.00",
        "items": [{"sku": "MS-2", "quantity": 2, "unitPrice": "29.50"}],
    }
    bad = {"orderId": "not-a-uuid", "items": "two mice"}

    with ConsumerProcess(tmp_path, "inventory", **consumer_env) as consumer:
        put = _put_events(aws, [bad, good])
        assert put["FailedEntryCount"] == 0
        assert wait_until(lambda: product(client, "MS-2")["reserved"] == 2, timeout=15)
        dead = _dead_letters(aws, "inventory")
        assert consumer.process is not None
        assert consumer.process.poll() is None  # still running after the bad one

    [letter] = dead
    assert json.loads(letter["Body"])["detail"] == bad
    reason = letter["MessageAttributes"]["deadLetterReason"]["StringValue"]
    assert "OrderPlaced data is invalid" in reason
    assert "orderId" in reason
    assert "items" in reason
    assert Reservation.objects.get(order_id=order_id).quantity == 2


def _put_events(aws: AwsContext, details: list[dict[str, Any]]) -> dict[str, Any]:
    """`aws events put-events`, the real CLI, as a producer outside the monolith would."""
    entries = [
        {
            "Source": "partner.checkout",
            "DetailType": "OrderPlaced",
            "EventBusName": aws.bus,
            "Detail": json.dumps(detail),
        }
        for detail in details
    ]
    return aws_cli(
        aws, "events", "put-events", "--entries", json.dumps(entries), "--output", "json"
    )


def _dead_letters(aws: AwsContext, module: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{aws.prefix}-{module}-dlq")["QueueUrl"]
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
    return messages


def _hold_inventory_writes() -> None:
    """Inside an atomic block on inventory: SQLite's IMMEDIATE transaction already holds the
    write lock; on PostgreSQL, lock the inbox every handler writes first."""
    connection = connections["inventory"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE modulith_inboxrecord IN ACCESS EXCLUSIVE MODE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


def _in_flight(sqs: Any, queue: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])
