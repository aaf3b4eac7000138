"""The saga over each queue transport (SQS, SNS, EventBridge): flipping MODULITH_TRANSPORT
changes nothing in module code; a consumer killed while handling a message loses nothing and
doubles nothing; a foreign producer's events (sent with the real AWS CLI, from a partner's
checkout, which inventory's manifest accepts OrderPlaced from) are handled once, in the trace
they name, and a bad one is dead-lettered with its reason.

The test process is the web tier: it places orders and relays their events. The consumers are
`manage.py consume` processes, as a deployment runs them, except where a test reads the
consumer's report: then it is the consumer of this process.
"""

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from modules.inventory.models import Reservation
from modulith.aws.dead_letter_queues import DeadMessage, QueueDeadLetters
from modulith.aws.messages import DEAD_LETTER_REASON
from modulith.aws.processor import ConsumerReport
from modulith.database.store.models import InboxRecord, OutboxEvent
from modulith.runtime import runtime
from modulith.testing import wait_until
from tests.aws.cli import put_events, sns_publish, sqs_send
from tests.aws.consumers import LOGGING_ITS_SQL, ConsumerProcess
from tests.aws.emulator import AwsContext
from tests.aws.queues import receive_all
from tests.aws.test_consumer import TRACE_ID, consumer, receive
from tests.faults import hold_writes
from tests.shop import place, product, published, run_the_saga, stock

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

MODULES = ("orders", "inventory", "payments")
# The source of a partner's checkout, which inventory's manifest accepts OrderPlaced from.
PARTNER = "partner.checkout"


@pytest.fixture(params=["sqs", "sns", "eventbridge"])
def transport(request: pytest.FixtureRequest, aws: AwsContext, settings: Any) -> str:
    """This process relays through the transport, provisioned for the test's names."""
    settings.MODULITH_TRANSPORT = request.param
    settings.MODULITH_VISIBILITY_TIMEOUT = 3
    call_command("provision", stdout=StringIO())
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


@pytest.mark.slow
def test_the_saga_completes(client: Client, tmp_path: Path, consumer_env: dict[str, str]) -> None:
    """Every module's queue consumed by one process, as the monolith's consumer does."""
    with ConsumerProcess(tmp_path, *MODULES, env=consumer_env):
        run_the_saga(client)


@pytest.mark.slow
def test_a_consumer_killed_while_handling_a_message_loses_nothing_and_doubles_nothing(
    client: Client, tmp_path: Path, consumer_env: dict[str, str], aws: AwsContext
) -> None:
    stock(client, "KB-1", 5)
    doomed = ConsumerProcess(tmp_path, "inventory", env={**consumer_env, **LOGGING_ITS_SQL})
    with transaction.atomic(using="inventory"):
        hold_writes("inventory", "modulith_inboxrecord")  # the consumer's handler waits on it
        doomed.start()
        placed = place(client, ("KB-1", 2)).json()["orderId"]
        order_placed = OutboxEvent.objects.using("orders").get(event_name="OrderPlaced").id
        wait_until(
            lambda: doomed.looked_up(order_placed),
            awaiting="the consumer to begin handling OrderPlaced (its handler then waits on "
            "the lock)",
            timeout=15,
            details=doomed.output,
        )
        doomed.kill()
    assert Reservation.objects.filter(order_id=placed).count() == 0

    with ConsumerProcess(tmp_path, "inventory", env=consumer_env) as successor:
        # After the visibility timeout, the message comes back, and is handled.
        wait_until(
            lambda: Reservation.objects.filter(order_id=placed).count(),
            lambda reservations: reservations == 1,
            awaiting=f"order {placed} to be reserved",
            timeout=15,
            details=successor.output,
        )
        wait_until(
            lambda: depth(aws, "inventory"),
            lambda messages: messages == 0,
            awaiting="inventory's queue to be empty: nothing left that could be handled twice",
            details=successor.output,
        )

    assert Reservation.objects.filter(order_id=placed).count() == 1
    assert product(client, "KB-1")["reserved"] == 2
    assert [e["orderId"] for e in published("inventory", "StockReserved")] == [placed]


@pytest.mark.slow
def test_a_foreign_producers_event_is_handled_once_and_a_bad_one_dead_lettered(
    client: Client, tmp_path: Path, consumer_env: dict[str, str], aws: AwsContext, transport: str
) -> None:
    producer = PRODUCERS[transport]
    stock(client, "MS-2", 3, price="29.50")
    order_id, event_id = str(uuid4()), uuid4()
    good = {
        "orderId": order_id,
        "customerId": "partner-7",
        "currency": "EUR",
        "total": "59.00",
        "items": [{"sku": "MS-2", "quantity": 2, "unitPrice": "29.50"}],
    }
    bad = {"orderId": "not-a-uuid", "items": "two mice"}
    # The producer sends the good one again, as it may after a timeout: with the same id where
    # it names its ids (a message attribute); EventBridge gives each entry an id of its own.
    copies = 2 if producer.names_its_ids else 1

    with ConsumerProcess(tmp_path, "inventory", env=consumer_env) as consumer_process:
        producer.send(aws, bad)
        sent = [producer.send(aws, good, event_id=event_id) for _ in range(copies)]
        wait_until(
            lambda: product(client, "MS-2")["reserved"],
            lambda reserved: reserved == 2,
            awaiting="MS-2 to be reserved",
            timeout=15,
            details=consumer_process.output,
        )
        [listed] = wait_until(
            lambda: queue_dead_letters().letters(runtime().topology.module("inventory")),
            awaiting="the bad event in inventory's dead-letter queue",
            timeout=10,
            details=consumer_process.output,
        )
        wait_until(
            lambda: depth(aws, "inventory"),
            lambda messages: messages == 0,
            awaiting="every message on inventory's queue to be handled",
            details=consumer_process.output,
        )
        assert consumer_process.process is not None
        assert consumer_process.process.poll() is None  # still running after the bad one

    assert (
        f"consumer stopped: handled 1, duplicates {copies - 1}, retried 0, dead-lettered 1"
        in consumer_process.output()
    )
    assert product(client, "MS-2")["reserved"] == 2
    assert Reservation.objects.get(order_id=order_id).quantity == 2
    [record] = InboxRecord.objects.using("inventory").all()
    assert str(record.event_id) == sent[0]
    [reserved] = published("inventory", "StockReserved")
    assert reserved["orderId"] == order_id
    [letter] = receive_all(aws.client("sqs"), dead_letter_queue_url(aws, "inventory"), 1)
    assert producer.data(letter["Body"]) == bad
    reason = letter["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"]
    assert "OrderPlaced data is invalid" in reason
    assert "orderId" in reason
    assert "items" in reason
    assert isinstance(listed, DeadMessage)
    assert (listed.event_name, listed.reason) == ("OrderPlaced", reason)


@pytest.mark.parametrize("transport", ["sqs", "sns"], indirect=True)
def test_a_foreign_message_handled_in_the_trace_its_traceparent_attribute_names(
    client: Client, aws: AwsContext, transport: str
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

    PRODUCERS[transport].send(aws, data, traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
    assert receive(consumer("inventory")) == ConsumerReport(handled=1)

    [reserved] = OutboxEvent.objects.using("inventory").filter(event_name="StockReserved")
    assert reserved.wire["detail"]["metadata"]["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert reserved.wire["detail"]["data"]["orderId"] == order_id


# A producer outside the application -------------------------------------------------------


class ForeignProducer:
    """How a partner's checkout sends OrderPlaced with one transport, with the real AWS CLI:
    onto the bus (EventBridge: a flat detail, the event's id EventBridge's own), or onto
    orders' topic (SNS) or into inventory's queue (SQS): the data as the body, the event's
    name, source, id and trace in message attributes."""

    def __init__(
        self,
        send: Callable[[AwsContext, dict[str, Any], dict[str, str]], str],
        *,
        attributes: bool,
    ) -> None:
        self._send = send
        self.names_its_ids = attributes  # in the eventId attribute

    def send(
        self,
        aws: AwsContext,
        data: dict[str, Any],
        *,
        event_id: UUID | None = None,
        traceparent: str | None = None,
    ) -> str:
        """Sends the data; returns the event's id (the one given, or EventBridge's)."""
        attributes = {"eventType": "OrderPlaced", "source": PARTNER}
        if event_id is not None:
            attributes["eventId"] = str(event_id)
        if traceparent is not None:
            attributes["traceparent"] = traceparent
        return self._send(aws, data, attributes)

    def data(self, body: str) -> Any:
        """The data the producer sent, read back from a message's body."""
        sent = json.loads(body)
        return sent if self.names_its_ids else sent["detail"]


def _put_events(aws: AwsContext, data: dict[str, Any], attributes: dict[str, str]) -> str:
    [event_id] = put_events(
        aws,
        {
            "Source": attributes["source"],
            "DetailType": attributes["eventType"],
            "Detail": json.dumps(data),
        },
    )
    return event_id


def _sns_publish(aws: AwsContext, data: dict[str, Any], attributes: dict[str, str]) -> str:
    sns_publish(aws, "orders", data, **attributes)
    return attributes.get("eventId", "")


def _sqs_send(aws: AwsContext, data: dict[str, Any], attributes: dict[str, str]) -> str:
    message_id = sqs_send(aws, "inventory", data, **attributes)
    return attributes.get("eventId", message_id)


PRODUCERS = {
    "eventbridge": ForeignProducer(_put_events, attributes=False),
    "sns": ForeignProducer(_sns_publish, attributes=True),
    "sqs": ForeignProducer(_sqs_send, attributes=True),
}


# Reading the queues ------------------------------------------------------------------------


def queue_url(aws: AwsContext, module: str) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=f"{aws.prefix}-{module}")["QueueUrl"])


def dead_letter_queue_url(aws: AwsContext, module: str) -> str:
    sqs = aws.client("sqs")
    return str(sqs.get_queue_url(QueueName=f"{aws.prefix}-{module}-dlq")["QueueUrl"])


def depth(aws: AwsContext, module: str) -> int:
    """Messages on the module's queue, visible or in flight."""
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(aws, module),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def queue_dead_letters() -> QueueDeadLetters:
    [place] = [p for p in runtime().dead_letters if isinstance(p, QueueDeadLetters)]
    return place
