"""The consume function, fed SQS records built from real messages of the emulator's queue: a
record is handled in its trace and answered as done; of several, exactly the failing one is
named for another receive; what can never be handled is dead-lettered with its reason; a
duplicate has one effect; a database outage delays records without using up their receives."""

import json
from typing import Any
from uuid import uuid4

import pytest

from modules.orders.models import OrderStatus
from modulith.aws.context import aws_context
from modulith.aws.lambdas import consume
from modulith.aws.messages import DEAD_LETTER_SOURCE, EVENT_ID, HOLDS
from modulith.aws.models import HandlingFailure
from modulith.database.store.models import InboxRecord, OutboxEvent
from modulith.runtime import runtime
from tests.aws.emulator import AwsContext
from tests.aws.lambdas.event_source import EventSource, failures
from tests.aws.test_consumer import (
    TRACE_ID,
    captured,
    depth,
    pending_order,
    reason_of,
    send,
    status_of,
    take_all,
    use_queues,
    wire_body,
)
from tests.faults import database_down
from tests.lambda_events import context, sqs_event
from tests.shop import published

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_a_record_is_handled_in_the_trace_it_carries_and_answered_as_done(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    header = f"Root=1-{TRACE_ID[:8]}-{TRACE_ID[8:]};Parent=00f067aa0ba902b7;Sampled=1"
    send(
        wire_body("PaymentCaptured", captured(order_id)),
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": header}},
    )

    _, answer = EventSource().poll()

    assert answer == {"batchItemFailures": []}
    assert status_of(order_id) == OrderStatus.CONFIRMED
    confirmed = OutboxEvent.objects.using("orders").get(event_name="OrderConfirmed")
    assert confirmed.trace_id == TRACE_ID
    assert depth("orders") == 0  # the event source deleted it


def test_of_several_records_exactly_the_failing_one_is_named_and_comes_back(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    paid, unknown, also_paid = uuid4(), uuid4(), uuid4()
    pending_order(paid)
    pending_order(also_paid)
    for order_id in (paid, unknown, also_paid):
        send(wire_body("PaymentCaptured", captured(order_id)))
    source = EventSource()

    messages, answer = source.poll(expected=3)

    [failing] = [
        m for m in messages if json.loads(m["Body"])["detail"]["data"]["orderId"] == str(unknown)
    ]
    assert failures(answer) == [failing["MessageId"]]
    assert status_of(paid) == status_of(also_paid) == OrderStatus.CONFIRMED
    failure = HandlingFailure.objects.using("orders").get(subscriber="orders")
    assert (failure.attempts, failure.last_error) == (
        1,
        f"LookupError: order {unknown} does not exist",
    )
    assert depth("orders") == 1  # only the failing one is left, for another receive

    pending_order(unknown)  # what it was waiting for
    [again], answer = source.poll()

    assert again["Body"] == failing["Body"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    assert answer == {"batchItemFailures": []}
    assert status_of(unknown) == OrderStatus.CONFIRMED
    assert depth("orders") == 0


def test_what_can_never_be_handled_is_dead_lettered_with_its_reason_and_answered_as_done(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order_id = uuid4()
    bad_data = wire_body("PaymentCaptured", captured(order_id, amount="ten euros"))
    not_ours = wire_body("StockReserved", {"orderId": str(order_id)})
    send(bad_data)
    send(not_ours)

    _, answer = EventSource().poll(expected=2)

    assert answer == {"batchItemFailures": []}  # not left for the redrive's receives
    assert depth("orders") == 0
    dead = {message["Body"]: message for message in take_all("orders", dead=True, expected=2)}
    assert set(dead) == {bad_data, not_ours}
    assert reason_of(dead[bad_data]).startswith("PaymentCaptured data is invalid: amount: ")
    assert reason_of(dead[not_ours]) == "orders does not handle StockReserved events"
    assert dead[not_ours]["MessageAttributes"][DEAD_LETTER_SOURCE]["StringValue"] == (
        f"{aws.prefix}-orders"
    )
    assert not HandlingFailure.objects.using("orders").exists()


def test_a_duplicate_record_has_one_effect(aws: AwsContext, settings: Any) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    body = wire_body("PaymentCaptured", captured(order_id))
    send(body)
    send(body)  # at-least-once: the same event twice, in one batch

    messages, answer = EventSource().poll(expected=2)

    assert len(messages) == 2
    assert answer == {"batchItemFailures": []}
    assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]
    event_id = json.loads(body)["detail"]["metadata"]["eventId"]
    assert InboxRecord.objects.using("orders").filter(event_id=event_id).count() == 1
    assert depth("orders") == 0


def test_while_the_database_is_down_records_are_sent_again_and_keep_their_receives(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    send(wire_body("PaymentCaptured", captured(order_id)))
    source = EventSource()
    [original] = source.receive()

    with database_down("orders"):
        answer = source.invoke([original])

    assert answer == {"batchItemFailures": []}  # the original is deleted: a copy waits
    assert not HandlingFailure.objects.using("orders").exists()  # not the message's fault
    [copy] = source.receive()
    assert copy["Body"] == original["Body"]
    assert copy["MessageId"] != original["MessageId"]
    assert copy["Attributes"]["ApproximateReceiveCount"] == "1"  # its receives start afresh
    assert copy["MessageAttributes"][HOLDS]["StringValue"] == "1"
    assert source.invoke([copy]) == {"batchItemFailures": []}
    assert status_of(order_id) == OrderStatus.CONFIRMED
    assert depth("orders") == 0
    assert depth("orders", dead=True) == 0


def publish_foreign(data: dict[str, Any], **attributes: str) -> None:
    """A foreign producer's `sns publish` of PaymentCaptured data on payments' topic, which
    orders' queue receives through its subscription (raw delivery, the attributes kept): the
    till's billing system, whose source orders' manifest accepts PaymentCaptured from."""
    current = runtime()
    named = {"eventType": "PaymentCaptured", "source": "billing.legacy"} | attributes
    aws_context(current).sns.publish(
        TopicArn=aws_context(current).topics.arn(aws_context(current).names.topic("payments")),
        Message=json.dumps(data),
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in named.items()
        },
    )


def test_a_foreign_message_through_a_topic_is_handled_in_the_trace_its_attribute_names(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings, "sns")
    order_id = uuid4()
    pending_order(order_id)
    publish_foreign(captured(order_id), traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01")

    [message], answer = EventSource().poll()

    assert answer == {"batchItemFailures": []}
    assert status_of(order_id) == OrderStatus.CONFIRMED
    # No eventId attribute: the event is known by its queue message's id.
    [record] = InboxRecord.objects.using("orders").all()
    assert str(record.event_id) == message["MessageId"]
    confirmed = OutboxEvent.objects.using("orders").get(event_name="OrderConfirmed")
    assert confirmed.trace_id == TRACE_ID


def test_a_foreign_message_sent_again_during_an_outage_keeps_the_id_it_was_known_by(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings, "sns")
    order_id = uuid4()
    pending_order(order_id)
    publish_foreign(captured(order_id))
    source = EventSource()
    [original] = source.receive()

    with database_down("orders"):
        assert source.invoke([original]) == {"batchItemFailures": []}
    [copy] = source.receive()

    assert copy["MessageId"] != original["MessageId"]
    assert copy["MessageAttributes"][EVENT_ID]["StringValue"] == original["MessageId"]
    assert source.invoke([copy]) == {"batchItemFailures": []}
    assert status_of(order_id) == OrderStatus.CONFIRMED
    [record] = InboxRecord.objects.using("orders").all()
    assert str(record.event_id) == original["MessageId"]


def test_records_started_too_close_to_the_timeout_are_given_back_unhandled(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    send(wire_body("PaymentCaptured", captured(order_id)))
    source = EventSource()
    [message] = source.receive()

    answer = source.invoke([message], remaining=1)

    assert failures(answer) == [message["MessageId"]]
    assert status_of(order_id) == OrderStatus.PENDING


def test_records_of_a_queue_no_module_here_reads_fail_the_invocation(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    send(wire_body("PaymentCaptured", captured(uuid4())))
    [message] = EventSource().receive()

    with pytest.raises(LookupError, match=r"^elsewhere is not the queue of a module running here"):
        consume.handler(sqs_event([message], "elsewhere"), context())
