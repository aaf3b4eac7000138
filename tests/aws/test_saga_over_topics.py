"""The saga over SNS fan-out: the relay publishes each event on its publisher's topic, and the
modules' queues, subscribed with filter policies and raw delivery, receive what they handle.

In the monolith all modules run in one process: the test process places orders and relays
their events, and one `manage.py consume` process consumes every module's queue. A foreign
producer's `aws sns publish`, naming its event in the eventType attribute and its source in
the source attribute (a partner's checkout, which inventory's manifest accepts OrderPlaced
from), is handled like a foreign EventBridge event; a bad one is dead-lettered with its reason.
"""

import json
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.test import Client

from modules.inventory.models import Reservation
from modulith.aws.context import aws_context
from modulith.aws.dead_letter_queues import DeadMessage, QueueDeadLetters
from modulith.aws.messages import DEAD_LETTER_REASON
from modulith.aws.processor import ConsumerReport
from modulith.database.store.models import InboxRecord, OutboxEvent
from modulith.runtime import runtime
from tests.aws.cli import aws_cli
from tests.aws.consumers import ConsumerProcess
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import TRACE_ID, consumer, receive
from tests.shop import product, published, run_the_saga, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# The source of a partner's checkout, which inventory's manifest accepts OrderPlaced from.
PARTNER = "partner.checkout"


@pytest.fixture
def topics(aws: AwsContext, settings: Any) -> AwsContext:
    """This process relays through SNS, to topics and subscriptions provisioned for the test."""
    settings.MODULITH_TRANSPORT = "sns"
    settings.MODULITH_VISIBILITY_TIMEOUT = 3
    call_command("provision", stdout=StringIO())
    return aws


@pytest.mark.slow
def test_the_saga_completes_over_topics_with_every_module_in_one_process(
    topics: AwsContext, client: Client, tmp_path: Path
) -> None:
    env = {
        **topics.env,
        "MODULITH_TRANSPORT": "sns",
        "MODULITH_ASYNC_HANDLERS": "inline",
        "MODULITH_VISIBILITY_TIMEOUT": "3",
        "MODULITH_RETRY_BASE_SECONDS": "0.5",
    }
    with ConsumerProcess(tmp_path, "orders", "inventory", "payments", **env):
        run_the_saga(client)


def test_a_foreign_producers_sns_message_is_handled_once_and_a_bad_one_dead_lettered(
    topics: AwsContext, client: Client
) -> None:
    stock(client, "MS-2", 3, price="29.50")
    order_id, event_id = str(uuid4()), str(uuid4())
    good = {
        "orderId": order_id,
        "customerId": "partner-7",
        "currency": "EUR",
        "total": "59.00",
        "items": [{"sku": "MS-2", "quantity": 2, "unitPrice": "29.50"}],
    }
    bad = {"orderId": "not-a-uuid", "items": "two mice"}
    traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

    sns_publish(topics, "orders", bad, eventType="OrderPlaced", source=PARTNER)
    for _ in range(2):  # the producer sends it again, as it may after a timeout
        sns_publish(
            topics,
            "orders",
            good,
            eventType="OrderPlaced",
            source=PARTNER,
            eventId=event_id,
            traceparent=traceparent,
        )
    report = receive(consumer("inventory"), messages=3)

    assert report == ConsumerReport(handled=1, duplicates=1, dead=1)
    assert product(client, "MS-2")["reserved"] == 2
    assert Reservation.objects.get(order_id=order_id).quantity == 2
    [record] = InboxRecord.objects.using("inventory").all()
    assert str(record.event_id) == event_id
    [reserved] = published("inventory", "StockReserved")
    assert reserved["orderId"] == order_id
    [letter] = dead_letter_queue(topics, "inventory")
    assert json.loads(letter["Body"]) == bad
    reason = letter["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"]
    assert "OrderPlaced data is invalid" in reason
    assert "orderId" in reason
    assert "items" in reason
    [listed] = queue_dead_letters().letters(runtime().topology.module("inventory"))
    assert isinstance(listed, DeadMessage)
    assert (listed.event_name, listed.reason) == ("OrderPlaced", reason)


def test_a_foreign_message_handled_in_the_trace_its_traceparent_attribute_names(
    topics: AwsContext, client: Client
) -> None:
    stock(client, "MS-3", 1)
    order_id = str(uuid4())
    data = {
        "orderId": order_id,
        "customerId": "partner-7",
        "currency": "EUR",
        "total": "10.00",
        "items": [{"sku": "MS-3", "quantity": 1, "unitPrice": "10.00"}],
    }

    sns_publish(
        topics,
        "orders",
        data,
        eventType="OrderPlaced",
        source=PARTNER,
        traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    )
    assert receive(consumer("inventory")) == ConsumerReport(handled=1)

    [reserved] = OutboxEvent.objects.using("inventory").filter(event_name="StockReserved")
    assert reserved.wire["detail"]["metadata"]["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert reserved.wire["detail"]["data"]["orderId"] == order_id


def sns_publish(aws: AwsContext, module: str, data: dict[str, Any], **attributes: str) -> None:
    """`aws sns publish`, the real CLI, onto the module's topic, as a producer outside the
    monolith would."""
    topic_arn = aws_context(runtime()).topics.arn(f"{aws.prefix}-{module}")
    attribute_values = {
        name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
    }
    published = aws_cli(
        aws,
        "sns",
        "publish",
        "--topic-arn",
        topic_arn,
        "--message",
        json.dumps(data),
        "--message-attributes",
        json.dumps(attribute_values),
        "--output",
        "json",
    )
    assert published["MessageId"]


def dead_letter_queue(aws: AwsContext, module: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{aws.prefix}-{module}-dlq")["QueueUrl"]
    return list(
        sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
    )


def queue_dead_letters() -> QueueDeadLetters:
    [place] = [p for p in runtime().dead_letters if isinstance(p, QueueDeadLetters)]
    return place
