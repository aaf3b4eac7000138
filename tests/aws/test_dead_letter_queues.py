"""Dead letters on the queue transports, through their one interface: the outbox's dead
deliveries and the modules' dead-letter queues, against the emulator's real queues."""

import json
from io import StringIO
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command

from modulith.aws.context import aws_context
from modulith.aws.dead_letter_queues import DeadMessage, QueueDeadLetters
from modulith.aws.processor import ConsumerReport
from modulith.outbox.dead_deliveries import OutboxDeadLetters
from modulith.outbox.dead_letters import Replayed
from modulith.runtime import runtime
from tests.aws.emulator import AwsContext
from tests.aws.test_consumer import (
    captured,
    consumer,
    depth,
    pending_order,
    receive,
    status_of,
    use_queues,
    wire_body,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def moved_by_redrive(module: str, order_id: UUID) -> str:
    """A PaymentCaptured in the module's dead-letter queue, as SQS's redrive policy leaves a
    message that was received too often: the body as sent, no reason of ours. Its event id."""
    body = wire_body("PaymentCaptured", captured(order_id))
    current = runtime()
    aws_context(current).sqs.send_message(
        QueueUrl=aws_context(current).queues.dead_letter_url(module), MessageBody=body
    )
    return str(json.loads(body)["detail"]["metadata"]["eventId"])


def dead_letter_queues() -> QueueDeadLetters:
    [place] = [p for p in runtime().dead_letters if isinstance(p, QueueDeadLetters)]
    return place


def test_on_queues_dead_letters_are_kept_in_the_outbox_and_in_the_dead_letter_queues(
    aws: AwsContext, settings: Any
) -> None:
    for transport in ("sqs", "eventbridge", "sns"):
        settings.MODULITH_TRANSPORT = transport

        places = [type(place) for place in runtime().dead_letters]

        assert places == [OutboxDeadLetters, QueueDeadLetters], transport


def test_a_dead_letter_queue_lists_its_messages_with_their_reason_and_leaves_them(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    event_id = moved_by_redrive("orders", uuid4())
    orders = runtime().topology.module("orders")

    [letter] = dead_letter_queues().letters(orders)

    assert isinstance(letter, DeadMessage)
    assert (letter.module, letter.event_id, letter.event_name) == (
        "orders",
        event_id,
        "PaymentCaptured",
    )
    assert letter.reason == "moved by the redrive policy after 5 receives"
    assert str(letter) == (
        f"orders queue message {letter.message_id} PaymentCaptured {event_id}: {letter.reason}"
    )
    assert depth("orders", dead=True) == 1  # still there, visible again
    assert [m.event_id for m in dead_letter_queues().letters(orders)] == [event_id]


def test_a_dead_letter_queue_replays_one_message_by_its_event_id_and_keeps_the_others(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    first, second = uuid4(), uuid4()
    chosen = moved_by_redrive("orders", first)
    other = moved_by_redrive("orders", second)
    orders = runtime().topology.module("orders")
    pending_order(first)

    replayed = dead_letter_queues().replay(orders, {chosen})

    assert replayed == Replayed(count=1, summary="1 dead message(s) back on the queue")
    assert [m.event_id for m in dead_letter_queues().letters(orders)] == [other]
    assert receive(consumer("orders")) == ConsumerReport(handled=1)
    assert status_of(first) == "CONFIRMED"


def test_the_json_listing_shows_dead_messages_beside_dead_deliveries(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    event_id = moved_by_redrive("orders", uuid4())
    out = StringIO()

    call_command("deadletters", "list", "--format", "json", stdout=out)

    [letter] = json.loads(out.getvalue())
    assert letter["kind"] == "queue"
    assert (letter["module"], letter["event_id"], letter["event_name"]) == (
        "orders",
        event_id,
        "PaymentCaptured",
    )
    assert letter["reason"] == "moved by the redrive policy after 5 receives"
    assert letter["receives"] >= 1
