"""The queue consumer against a real SQS (the emulator): a failing handler is retried until it
succeeds, with one effect; a message that keeps failing ends in the dead-letter queue and can
be replayed; what can never be handled is dead-lettered at once with its reason; handlers run
in the trace the message carries; `manage.py consume` stops cleanly on SIGTERM, and only then."""

import json
import logging
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command
from django.db import transaction

from contracts.payments import PaymentCaptured
from modules.orders.models import Order, OrderStatus
from modulith.aws.consumer import QueueConsumer, queue_consumer
from modulith.aws.context import aws_context
from modulith.aws.messages import DEAD_LETTER_REASON, DEAD_LETTER_SOURCE
from modulith.aws.models import HandlingFailure
from modulith.aws.processor import ConsumerReport
from modulith.bus import Envelope, publish
from modulith.database.store.models import Delivery, DeliveryStatus, InboxRecord, OutboxEvent
from modulith.runtime import runtime
from modulith.testing import wait_until
from tests.aws.consumers import ConsumerProcess
from tests.aws.emulator import AwsContext
from tests.aws.fault_proxy import FaultProxy
from tests.aws.queues import receive_all
from tests.aws.transports import RELAYED, Relayed
from tests.faults import database_down
from tests.processes import manage
from tests.shop import published

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
MAX_POLLS = 8
RECEIVE = "AmazonSQS.ReceiveMessage"
# modulith.aws.clients asks botocore for retries={"max_attempts": 3}: 3 retries, 4 attempts.
RECEIVE_ATTEMPTS = 4


# --- steps --------------------------------------------------------------------------------


def use_queues(settings: Any, transport: str = "sqs") -> None:
    """Events travel through the emulator's queues, provisioned for this test's names."""
    settings.MODULITH_TRANSPORT = transport
    call_command("provision", stdout=StringIO())


def consumer(module: str = "orders") -> QueueConsumer:
    """The consumer `manage.py consume` runs for one module, with a short long-poll."""
    current = runtime()
    return queue_consumer(current, current.topology.module(module), wait_seconds=1)


def receive(polling: QueueConsumer, messages: int = 1) -> ConsumerReport:
    """Polls (a bounded number of times) until `messages` messages have been processed."""
    total = ConsumerReport()
    for _ in range(MAX_POLLS):
        total.add(polling.poll())
        if total.settled >= messages:
            break
    return total


def capture_payment_for(order_id: UUID) -> UUID:
    """Payments says an order was paid (as if its events overtook the order's creation)."""
    with transaction.atomic(using="payments"):
        return publish(
            PaymentCaptured(
                order_id=order_id, payment_id=uuid4(), amount=Decimal("10.00"), currency="EUR"
            )
        )


def pending_order(order_id: UUID) -> Order:
    return Order.objects.create(
        id=order_id, customer_id="c", total=Decimal("10.00"), currency="EUR", payment_token="t"
    )


def status_of(order_id: UUID) -> str:
    return str(Order.objects.get(id=order_id).status)


def wire_body(
    event_name: str, data: dict[str, Any], *, schema_version: str = "1.0", **trace: str
) -> str:
    """A message body in the wire format, as a producer in another process would send it."""
    return Envelope(
        event_id=uuid4(),
        event_name=event_name,
        source="payments.service",
        occurred_at=datetime.now(UTC),
        schema_version=schema_version,
        data=data,
        trace=trace,
    ).to_json()


def captured(order_id: UUID, **extra: Any) -> dict[str, Any]:
    return {
        "orderId": str(order_id),
        "paymentId": str(uuid4()),
        "amount": "10.00",
        "currency": "EUR",
        **extra,
    }


def send(body: str, module: str = "orders", **options: Any) -> None:
    current = runtime()
    aws_context(current).sqs.send_message(
        QueueUrl=aws_context(current).queues.url(module), MessageBody=body, **options
    )


def depth(module: str, *, dead: bool = False) -> int:
    """Messages on the module's queue (or its dead-letter queue), visible or in flight."""
    current = runtime()
    queues = aws_context(current).queues
    url = queues.dead_letter_url(module) if dead else queues.url(module)
    attributes = aws_context(current).sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def take_all(module: str, *, dead: bool = False, expected: int = 1) -> list[dict[str, Any]]:
    """Receives (and hides) every message on the queue: waits, bounded, for `expected`."""
    queues = aws_context(runtime()).queues
    url = queues.dead_letter_url(module) if dead else queues.url(module)
    return receive_all(aws_context(runtime()).sqs, url, expected)


def reason_of(message: dict[str, Any]) -> str:
    return str(message["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"])


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- retries, redrive and replay ----------------------------------------------------------


def test_a_handler_failing_twice_then_succeeding_has_exactly_one_effect(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order_id = uuid4()
    event_id = capture_payment_for(order_id)  # orders does not hold this order yet
    assert Delivery.objects.using("payments").get(event_id=event_id).status == (
        DeliveryStatus.DELIVERED
    )
    orders = consumer()

    failures = [receive(orders), receive(orders)]

    assert failures == [ConsumerReport(retried=1), ConsumerReport(retried=1)]
    assert depth("orders") == 1  # still there, for another try
    failure = HandlingFailure.objects.using("orders").get(event_id=event_id, subscriber="orders")
    assert failure.attempts == 2
    assert failure.event_name == "PaymentCaptured"
    assert failure.last_error == f"LookupError: order {order_id} does not exist"

    pending_order(order_id)
    success = receive(orders)

    assert success == ConsumerReport(handled=1)
    assert status_of(order_id) == OrderStatus.CONFIRMED
    assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]
    assert depth("orders") == 0  # deleted once handled

    # At-least-once delivery: the very same message body arrives again.
    body = Envelope.from_wire(OutboxEvent.objects.using("payments").get(id=event_id).wire)
    send(body.to_json())
    again = receive(orders)

    assert again == ConsumerReport(duplicates=1)
    assert depth("orders") == 0
    assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]
    assert InboxRecord.objects.using("orders").filter(event_id=event_id).count() == 1


def test_a_handler_failing_always_ends_in_the_dead_letter_queue_and_replays(
    aws: AwsContext, settings: Any
) -> None:
    settings.MODULITH_MAX_RECEIVES = 3  # before provisioning: the redrive policy takes it
    use_queues(settings)
    order_id = uuid4()
    event_id = capture_payment_for(order_id)
    orders = consumer()

    total = ConsumerReport()
    for _ in range(MAX_POLLS):
        total.add(orders.poll())
        if depth("orders") == 0:
            break

    assert total == ConsumerReport(retried=3)
    assert depth("orders") == 0
    assert depth("orders", dead=True) == 1
    failure = HandlingFailure.objects.using("orders").get(event_id=event_id, subscriber="orders")
    assert failure.attempts == 3

    listing = command("deadletters", "list", "--module", "orders")

    [line] = listing.splitlines()
    assert line.startswith("orders queue message ")
    assert f"PaymentCaptured {event_id}: " in line
    assert line.endswith(
        "moved by the redrive policy after 3 receives; "
        f"last error: LookupError: order {order_id} does not exist"
    )
    assert depth("orders", dead=True) == 1  # listing leaves the message where it was

    pending_order(order_id)
    replayed = command("deadletters", "replay", "--module", "orders", "--all")

    assert replayed.strip() == "orders: 1 dead message(s) back on the queue"
    assert depth("orders", dead=True) == 0
    assert receive(orders) == ConsumerReport(handled=1)
    assert status_of(order_id) == OrderStatus.CONFIRMED
    assert published("orders", "OrderConfirmed") == [{"orderId": str(order_id)}]
    assert depth("orders") == 0
    assert depth("orders", dead=True) == 0
    assert command("deadletters", "list", "--module", "orders").strip() == "no dead letters"


# --- what can never be handled ------------------------------------------------------------


def test_what_can_never_be_handled_is_dead_lettered_at_once_with_its_reason(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    not_json = "this is not an event"
    bad_data = wire_body("PaymentCaptured", captured(order_id, amount="ten euros"))
    not_ours = wire_body("StockReserved", {"orderId": str(order_id)})
    good = wire_body("PaymentCaptured", captured(order_id))
    for body in (not_json, bad_data, not_ours, good):
        send(body)
    orders = consumer()

    total = receive(orders, messages=4)

    # Not one of them was put back for another receive: each went at its first.
    assert total == ConsumerReport(handled=1, dead=3)
    assert status_of(order_id) == OrderStatus.CONFIRMED
    assert depth("orders") == 0
    assert not HandlingFailure.objects.using("orders").exists()
    dead = {message["Body"]: message for message in take_all("orders", dead=True, expected=3)}
    assert set(dead) == {not_json, bad_data, not_ours}
    assert reason_of(dead[not_json]).startswith("body is not JSON: ")
    assert reason_of(dead[bad_data]).startswith("PaymentCaptured data is invalid: amount: ")
    assert reason_of(dead[not_ours]) == "orders does not handle StockReserved events"
    assert {m["MessageAttributes"][DEAD_LETTER_SOURCE]["StringValue"] for m in dead.values()} == {
        f"{aws.prefix}-orders"
    }


def test_the_reasons_of_messages_dead_lettered_at_once_are_listed(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    send("{not json")
    send(wire_body("OrderShipped", {"orderId": str(uuid4())}))

    assert receive(consumer(), messages=2) == ConsumerReport(dead=2)
    listing = command("deadletters", "list", "--module", "orders").splitlines()

    assert len(listing) == 2
    assert any(
        line.endswith("? ?: body is not JSON: " + _json_error("{not json")) for line in listing
    )
    assert any(
        " OrderShipped " in line and line.endswith(": orders does not handle OrderShipped events")
        for line in listing
    )


def _json_error(body: str) -> str:
    try:
        json.loads(body)
    except json.JSONDecodeError as error:
        return str(error)
    raise AssertionError(f"{body!r} is JSON")


def test_an_event_of_a_higher_major_schema_version_is_dead_lettered_with_that_reason(
    aws: AwsContext, settings: Any
) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    newer_major = wire_body("PaymentCaptured", captured(order_id), schema_version="3.0")
    send(newer_major)
    orders = consumer()

    assert receive(orders) == ConsumerReport(dead=1)
    [dead] = take_all("orders", dead=True)
    assert dead["Body"] == newer_major
    assert reason_of(dead) == (
        "PaymentCaptured schema version 3.0 is newer than the version 2.0 orders knows"
    )
    assert status_of(order_id) == OrderStatus.PENDING

    # A newer minor version only adds optional fields: it is handled, the extra ignored.
    send(wire_body("PaymentCaptured", captured(order_id, cardBrand="visa"), schema_version="2.3"))

    assert receive(orders) == ConsumerReport(handled=1)
    assert status_of(order_id) == OrderStatus.CONFIRMED


# --- trace context ------------------------------------------------------------------------


def test_a_message_is_handled_within_the_trace_it_carries(aws: AwsContext, settings: Any) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    send(
        wire_body(
            "PaymentCaptured", captured(order_id), traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01"
        )
    )

    assert receive(consumer()) == ConsumerReport(handled=1)

    confirmed = OutboxEvent.objects.using("orders").get(event_name="OrderConfirmed")
    assert confirmed.trace_id == TRACE_ID
    traceparent = confirmed.wire["detail"]["metadata"]["traceparent"]
    assert traceparent.startswith(f"00-{TRACE_ID}-")
    assert traceparent != f"00-{TRACE_ID}-00f067aa0ba902b7-01"  # a span of its own
    # ...and the trace travels on with what the handler published.
    [forwarded] = take_all("inventory")
    assert json.loads(forwarded["Body"])["detail"]["metadata"]["traceparent"] == traceparent
    assert forwarded["MessageAttributes"]["traceparent"]["StringValue"] == traceparent


def test_without_a_traceparent_the_x_ray_trace_header_gives_the_trace(
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

    assert receive(consumer()) == ConsumerReport(handled=1)

    confirmed = OutboxEvent.objects.using("orders").get(event_name="OrderConfirmed")
    assert confirmed.trace_id == TRACE_ID


# --- through every transport --------------------------------------------------------------


@pytest.mark.parametrize("relayed", RELAYED.values(), ids=list(RELAYED))
def test_events_relayed_through_each_transport_are_consumed_the_same_way(
    aws: AwsContext, settings: Any, relayed: Relayed
) -> None:
    use_queues(settings, transport=relayed.transport)
    order_id = uuid4()
    pending_order(order_id)
    event_id = capture_payment_for(order_id)
    assert Delivery.objects.using("payments").get(event_id=event_id).route == relayed.route(
        aws, "payments", "orders"
    )

    assert receive(consumer()) == ConsumerReport(handled=1)
    assert status_of(order_id) == OrderStatus.CONFIRMED
    assert InboxRecord.objects.using("orders").filter(event_id=event_id).count() == 1


def test_a_declared_foreign_producers_flat_event_on_the_bus_is_consumed(
    aws: AwsContext, settings: Any
) -> None:
    """orders' manifest accepts PaymentCaptured from billing.legacy."""
    use_queues(settings, transport="eventbridge")
    order_id = uuid4()
    pending_order(order_id)
    response = aws.client("events").put_events(
        Entries=[
            {
                "EventBusName": aws.bus,
                "Source": "billing.legacy",
                "DetailType": "PaymentCaptured",
                "Detail": json.dumps(captured(order_id)),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0

    assert receive(consumer()) == ConsumerReport(handled=1)
    assert status_of(order_id) == OrderStatus.CONFIRMED
    [record] = InboxRecord.objects.using("orders").all()
    assert str(record.event_id) == response["Entries"][0]["EventId"]


# --- the consume command as a process -----------------------------------------------------


def consume_process(aws: AwsContext, tmp_path: Path, wait: int = 1, **env: str) -> ConsumerProcess:
    """`manage.py consume --module orders --wait N` as a process of its own, on this test's
    databases and AWS names."""
    return ConsumerProcess(
        tmp_path, "orders", wait=wait, env={**aws.env, "MODULITH_TRANSPORT": "sqs", **env}
    )


def wait_until_handled(order_id: UUID, process: ConsumerProcess, timeout: float = 15) -> None:
    def status() -> str:
        assert process.process is not None
        exited = process.process.poll()
        assert exited is None, (
            f"consume exited with {exited} before handling the event:\n{process.output()}"
        )
        return status_of(order_id)

    wait_until(
        status,
        lambda seen: seen == OrderStatus.CONFIRMED,
        awaiting=f"the consumer to confirm order {order_id}",
        timeout=timeout,
        details=process.output,
    )


@pytest.mark.slow
def test_consume_exits_0_on_sigterm(aws: AwsContext, settings: Any, tmp_path: Path) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    capture_payment_for(order_id)
    with consume_process(aws, tmp_path) as process:
        wait_until_handled(order_id, process)
        started = time.monotonic()
        code = process.stop(timeout=10)
        stopped_in = time.monotonic() - started

    assert code == 0, process.output()
    assert stopped_in < 10
    assert "consumer stopped: handled 1, duplicates 0, retried 0, dead-lettered 0" in (
        process.output()
    )


@pytest.mark.slow
def test_an_idle_consumer_exits_without_waiting_out_its_long_poll(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any, tmp_path: Path
) -> None:
    """Stopped in the middle of a 20 s long poll, it exits within a quarter of it: the bound
    leaves room for the interpreter's own exit on a busy machine, not for the poll."""
    use_queues(settings)
    with consume_process(aws, tmp_path, wait=20) as process:  # SQS's longest long poll
        # In the middle of a poll: the emulator holds the consumer's ReceiveMessage.
        wait_until(
            lambda: fault_proxy.arrived[RECEIVE],
            awaiting="the consumer's long poll to reach the emulator",
            details=process.output,
        )
        started = time.monotonic()
        code = process.stop(timeout=10)
        stopped_in = time.monotonic() - started

    assert code == 0, process.output()
    assert stopped_in < 5, f"took {stopped_in:.1f} s:\n{process.output()}"


def test_consume_without_queues_fails_with_one_clear_line() -> None:
    result = manage(
        "consume", "--wait", "1", MODULITH_TRANSPORT="inprocess", DJANGO_DEBUG="1", timeout=30
    )

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: MODULITH_TRANSPORT is inprocess: there are no queues to consume (set it "
        "to sqs, sns or eventbridge; to empty what a queue transport left in them, consume "
        "--drain)"
    ]


@pytest.mark.slow
def test_consume_keeps_consuming_after_a_failed_poll(
    aws: AwsContext, fault_proxy: FaultProxy, settings: Any, tmp_path: Path
) -> None:
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    with consume_process(aws, tmp_path) as process:
        # One poll fails on every attempt botocore makes, as in a short AWS outage.
        fault_proxy.throttle(RECEIVE, times=RECEIVE_ATTEMPTS)
        wait_until(
            lambda: fault_proxy.faulted[RECEIVE],
            lambda faulted: faulted >= RECEIVE_ATTEMPTS,
            awaiting="the consumer to fail one poll on every attempt",
            timeout=15,
            details=process.output,
        )
        capture_payment_for(order_id)

        wait_until_handled(order_id, process)
        code = process.stop(timeout=10)

    assert code == 0, process.output()
    assert "consumer stopped: handled 1, " in process.output()


def test_a_consumer_whose_database_is_down_pauses_and_the_message_keeps_its_receives(
    aws: AwsContext, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.MODULITH_MAX_RECEIVES = 2  # two burnt receives would dead-letter the message
    settings.MODULITH_ROUTE_PROBE_MAX_SECONDS = 0.3
    use_queues(settings)
    order_id = uuid4()
    pending_order(order_id)
    capture_payment_for(order_id)
    orders = consumer()
    reports: list[ConsumerReport] = []
    stop = threading.Event()

    with caplog.at_level(logging.WARNING), database_down("orders"):
        polling = threading.Thread(target=lambda: reports.append(orders.poll(stop=stop)))
        polling.start()
        # The fault: the database stays down for three seconds, ten probes or so (not a wait
        # for anything the consumer does).
        time.sleep(3)
        paused = polling.is_alive()
    polling.join(10)
    stop.set()

    assert paused  # it held the message rather than giving it back
    assert reports == [ConsumerReport(handled=1)]
    assert status_of(order_id) == OrderStatus.CONFIRMED
    assert depth("orders") == 0
    assert depth("orders", dead=True) == 0
    assert not HandlingFailure.objects.using("orders").filter(subscriber="orders").exists()
    lines = [record.getMessage() for record in caplog.records]
    assert len([line for line in lines if "orders paused its queue" in line]) == 1
    assert len([line for line in lines if "orders resumed its queue" in line]) == 1
