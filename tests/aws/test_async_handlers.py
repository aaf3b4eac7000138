"""The queue consumer and the Lambda consume function run an `async def` handler as they run
any other: a failure is retried with the message kept (named for the event source, of a
batch), the handled message deleted, a redelivered one a duplicate."""

import json
from typing import Any
from uuid import uuid4

import pytest

from modules.orders.models import OrderStatus
from modulith.aws.processor import ConsumerReport
from modulith.bus import Envelope
from modulith.database.store.models import InboxRecord, OutboxEvent
from tests.aws.emulator import AwsContext
from tests.aws.lambdas.event_source import EventSource, failures
from tests.aws.test_consumer import (
    capture_payment_for,
    captured,
    consumer,
    depth,
    pending_order,
    receive,
    send,
    status_of,
    use_queues,
    wire_body,
)
from tests.modulith.bus import async_handlers
from tests.modulith.bus.test_handlers import handled_by
from tests.shop import published

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_the_consumer_runs_an_async_handler_once_whatever_arrives_again(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    with handled_by(async_handlers.PATH):
        order_id = uuid4()
        event_id = capture_payment_for(order_id)  # orders does not hold this order yet
        orders = consumer()

        assert receive(orders) == ConsumerReport(retried=1)
        assert depth("orders") == 1

        pending_order(order_id)

        assert receive(orders) == ConsumerReport(handled=1)
        assert status_of(order_id) == OrderStatus.CONFIRMED
        assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]
        assert depth("orders") == 0

        body = Envelope.from_wire(OutboxEvent.objects.using("payments").get(id=event_id).wire)
        send(body.to_json())

        assert receive(orders) == ConsumerReport(duplicates=1)
        assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]
        assert InboxRecord.objects.using("orders").filter(event_id=event_id).count() == 1
        assert [str(event_id)] * 2 == async_handlers.RAN_FOR  # the failure, then the success


def test_the_lambda_function_runs_an_async_handler_and_names_only_the_record_that_failed(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    with handled_by(async_handlers.PATH):
        paid, unknown = uuid4(), uuid4()  # orders holds the first order only
        pending_order(paid)
        for order_id in (paid, unknown):
            send(wire_body("PaymentCaptured", captured(order_id)))
        source = EventSource()

        messages, answer = source.poll(expected=2)

        [failing] = [
            m
            for m in messages
            if json.loads(m["Body"])["detail"]["data"]["orderId"] == str(unknown)
        ]
        assert failures(answer) == [failing["MessageId"]]
        assert status_of(paid) == OrderStatus.CONFIRMED
        assert published("orders", "OrderConfirmed") == [{"orderId": str(paid)}]
        assert len(async_handlers.RAN_FOR) == 2  # the async body ran for both

        pending_order(unknown)
        [again], answer = source.poll()

        assert again["MessageId"] == failing["MessageId"]
        assert failures(answer) == []
        assert status_of(unknown) == OrderStatus.CONFIRMED
