"""Forged events against the real consumer and the real emulator: an event is believed only
from the module that publishes it, or from a producer outside the application that a manifest
declares (orders accepts PaymentCaptured from billing.legacy).

The attack of the report: a `PaymentCaptured` of 0.01 XXX for an order of 999.00 EUR, from
`attacker.example`, sent every way a producer can reach orders' queue: straight to SQS (our
shape, or a flat SNS-style body naming its event in an attribute), on the bus (`aws events
put-events`), on payments' topic (`aws sns publish`), and through the Lambda consume function.
The bus's rule drops it before the queue; everywhere else the consumer dead-letters it at once
with its reason, counts and logs it, and the order stays PENDING. A declared producer is still
believed, and a capture from the real publisher that does not pay for the order is refused
too."""

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from modules.orders.models import Order, OrderStatus
from modulith.aws.processor import ConsumerReport
from modulith.bus import Envelope
from modulith.database.store.models import InboxRecord
from tests.aws.cli import aws_cli, sns_publish
from tests.aws.emulator import AwsContext
from tests.aws.lambdas.event_source import EventSource
from tests.aws.test_consumer import consumer, depth, reason_of, receive, send, take_all
from tests.shop import published

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ATTACKER = "attacker.example"
DECLARED = "billing.legacy"  # orders' manifest accepts PaymentCaptured from it
TOTAL = Decimal("999.00")
UNTRUSTED = "untrusted_source"


@pytest.fixture(params=["sqs"])
def queues(request: pytest.FixtureRequest, aws: AwsContext, settings: Any) -> str:
    """The transport's resources, provisioned for the test (the bus and its rules always)."""
    settings.MODULITH_TRANSPORT = request.param
    call_command("provision", stdout=StringIO())
    return str(request.param)


@pytest.fixture
def order_id() -> UUID:
    """A pending order of 999.00 EUR."""
    order = Order.objects.create(
        customer_id="alice", total=TOTAL, currency="EUR", payment_token="tok_visa"
    )
    return UUID(str(order.id))


def forged_capture(order_id: UUID, amount: str = "0.01", currency: str = "XXX") -> dict[str, Any]:
    return {
        "orderId": str(order_id),
        "paymentId": str(uuid4()),
        "amount": amount,
        "currency": currency,
    }


def our_shape(source: str, data: dict[str, Any]) -> str:
    """A body in the modules' own wire format (metadata and data), from `source`."""
    return Envelope(
        event_id=uuid4(),
        event_name="PaymentCaptured",
        source=source,
        occurred_at=datetime.now(UTC),
        schema_version="2.0",
        data=data,
    ).to_json()


def attributes(**values: str) -> dict[str, Any]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def dead_lettered(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "modulith_messages_dead_lettered_total", {"module": "orders", "reason": reason}
    )
    return value or 0.0


def untouched(order_id: UUID) -> None:
    assert Order.objects.get(id=order_id).status == OrderStatus.PENDING
    assert published("orders", "OrderConfirmed") == []
    assert not InboxRecord.objects.using("orders").exists()


def refused(source: str) -> str:
    return (
        f"orders does not accept PaymentCaptured from source {source!r}: only from "
        f"payments.service, {DECLARED} (a foreign producer is declared in the manifest's "
        "accepts_from)"
    )


WITHOUT_METADATA = (
    "PaymentCaptured from payments.service came without its metadata, which that module's "
    "events always carry"
)


# --- straight to the queue ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        (lambda data: (our_shape(ATTACKER, data), {}), refused(ATTACKER)),
        (
            lambda data: (json.dumps(data), attributes(eventType="PaymentCaptured")),
            refused("sns"),
        ),
        (
            lambda data: (
                json.dumps(data),
                attributes(eventType="PaymentCaptured", source=ATTACKER),
            ),
            refused(ATTACKER),
        ),
        (
            lambda data: (
                json.dumps(data),
                attributes(eventType="PaymentCaptured", source="payments.service"),
            ),
            WITHOUT_METADATA,
        ),
    ],
    ids=["our-shape", "flat-sns-style", "flat-with-source", "flat-claiming-payments"],
)
@pytest.mark.usefixtures("queues")
def test_a_forged_capture_sent_to_the_queue_is_dead_lettered_at_once_and_the_order_untouched(
    order_id: UUID, caplog: pytest.LogCaptureFixture, shape: Any, reason: str
) -> None:
    body, message_attributes = shape(forged_capture(order_id))
    send(body, MessageAttributes=message_attributes)
    counted = dead_lettered(UNTRUSTED)

    with caplog.at_level(logging.ERROR, logger="modulith.aws.processor"):
        report = receive(consumer())

    assert report == ConsumerReport(dead=1)  # at its first receipt, never retried
    [letter] = take_all("orders", dead=True)
    assert letter["Body"] == body
    assert reason_of(letter) == reason
    assert depth("orders") == 0
    untouched(order_id)
    assert dead_lettered(UNTRUSTED) == counted + 1
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records] == [reason]


# --- on the bus ---------------------------------------------------------------------------


def put_events(aws: AwsContext, source: str, detail: dict[str, Any]) -> None:
    """`aws events put-events`, the real CLI, as a producer outside the monolith runs it."""
    entry = {
        "Source": source,
        "DetailType": "PaymentCaptured",
        "EventBusName": aws.bus,
        "Detail": json.dumps(detail),
    }
    answer = aws_cli(aws, "events", "put-events", "--entries", json.dumps([entry]))
    assert answer["FailedEntryCount"] == 0, answer


@pytest.mark.usefixtures("queues")
def test_the_bus_routes_a_forged_capture_nowhere_and_a_declared_producers_to_orders(
    aws: AwsContext,
    order_id: UUID,
) -> None:
    put_events(aws, ATTACKER, forged_capture(order_id))
    put_events(aws, "payments.service.evil", forged_capture(order_id, str(TOTAL), "EUR"))

    # The emulator delivers to a rule's targets within PutEvents: nothing matched.
    assert depth("orders") == 0

    put_events(aws, DECLARED, forged_capture(order_id, str(TOTAL), "EUR"))

    assert receive(consumer()) == ConsumerReport(handled=1)
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
    assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]


@pytest.mark.usefixtures("queues")
def test_behind_a_rule_that_matches_no_source_the_consumer_still_refuses_forgeries(
    aws: AwsContext,
    order_id: UUID,
) -> None:
    """As provisioned before rules matched sources: the consumer is the second line."""
    events, rule = aws.client("events"), f"{aws.prefix}-orders"
    events.put_rule(
        Name=rule,
        EventBusName=aws.bus,
        EventPattern=json.dumps({"detail-type": ["PaymentCaptured", "PaymentFailed"]}),
    )
    counted = dead_lettered(UNTRUSTED)
    put_events(aws, ATTACKER, forged_capture(order_id))
    # A module's own source on a flat detail: our modules never send that shape.
    put_events(aws, "payments.service", forged_capture(order_id, str(TOTAL), "EUR"))

    assert receive(consumer(), messages=2) == ConsumerReport(dead=2)
    reasons = sorted(reason_of(letter) for letter in take_all("orders", dead=True, expected=2))
    assert reasons == sorted([refused(ATTACKER), WITHOUT_METADATA])
    untouched(order_id)
    assert dead_lettered(UNTRUSTED) == counted + 2

    assert call_command_lines("provision") == [f"update rule {rule} (event pattern)"]
    put_events(aws, ATTACKER, forged_capture(order_id))
    assert depth("orders") == 0


def call_command_lines(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


# --- on payments' topic -------------------------------------------------------------------


@pytest.mark.parametrize("queues", ["sns"], indirect=True)
@pytest.mark.usefixtures("queues")
def test_a_flat_capture_published_on_the_topic_with_an_event_type_is_dead_lettered(
    aws: AwsContext,
    order_id: UUID,
) -> None:
    sns_publish(aws, "payments", forged_capture(order_id), eventType="PaymentCaptured")
    sns_publish(
        aws, "payments", forged_capture(order_id), eventType="PaymentCaptured", source=ATTACKER
    )

    assert receive(consumer(), messages=2) == ConsumerReport(dead=2)
    reasons = sorted(reason_of(letter) for letter in take_all("orders", dead=True, expected=2))
    assert reasons == sorted([refused("sns"), refused(ATTACKER)])
    untouched(order_id)


# --- through the Lambda consume function --------------------------------------------------


@pytest.mark.usefixtures("queues")
def test_the_consume_function_dead_letters_a_forged_record_and_answers_it_done(
    order_id: UUID,
) -> None:
    body = our_shape(ATTACKER, forged_capture(order_id))
    send(body)

    [message], answer = EventSource().poll()

    assert answer == {"batchItemFailures": []}  # not left for the redrive's receives
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    [letter] = take_all("orders", dead=True)
    assert (letter["Body"], reason_of(letter)) == (body, refused(ATTACKER))
    assert depth("orders") == 0
    untouched(order_id)


# --- what the order knows -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency"), [("0.01", "EUR"), (str(TOTAL), "USD"), ("0.01", "XXX")]
)
@pytest.mark.usefixtures("queues")
def test_a_capture_from_payments_that_does_not_pay_for_the_order_is_dead_lettered(
    order_id: UUID, amount: str, currency: str
) -> None:
    send(our_shape("payments.service", forged_capture(order_id, amount, currency)))
    counted = dead_lettered("handler")

    assert receive(consumer()) == ConsumerReport(dead=1)
    [letter] = take_all("orders", dead=True)
    assert reason_of(letter) == (
        f"order {order_id} costs {TOTAL} EUR; a capture of {amount} {currency} does not pay for it"
    )
    untouched(order_id)
    assert dead_lettered("handler") == counted + 1


@pytest.mark.usefixtures("queues")
def test_a_capture_from_payments_for_the_orders_total_confirms_it(order_id: UUID) -> None:
    send(our_shape("payments.service", forged_capture(order_id, "999.0", "EUR")))

    assert receive(consumer()) == ConsumerReport(handled=1)
    assert Order.objects.get(id=order_id).status == OrderStatus.CONFIRMED
    assert depth("orders") == depth("orders", dead=True) == 0
