"""Messages the consumer cannot parse, or whose data the contract refuses, against the real
consumer, the Lambda consume function and the emulator's queues: each goes to the dead-letter
queue with its reason at its first receipt (never retried up to the receive limit), within a
time bound whatever it holds, and changes nothing.

The report's cases: our shape without `eventId` (a KeyError, retried, before), JSON nested
100,000 deep (a RecursionError), a body over the size bound, a `modulithHolds` attribute that
is not a small whole number (`abc` raised, `1e9` cost seconds, `1e12` exhausted memory), and
data the contract should refuse: a quantity of "5", a negative one, a customer id holding NUL
or U+202E."""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from io import StringIO
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.core.management import call_command

from modules.inventory.models import Product, Reservation
from modules.orders.models import Order, OrderStatus
from modulith.aws.messages import HOLDS
from modulith.aws.models import HandlingFailure
from modulith.aws.processor import ConsumerReport
from modulith.bus import Envelope
from modulith.transports.envelope import MAX_DEPTH
from tests.aws.emulator import AwsContext
from tests.aws.lambdas.event_source import EventSource
from tests.aws.test_consumer import consumer, depth, reason_of, receive, send, take_all
from tests.faults import database_down

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# Generous for the emulator on a busy machine: parsing the worst of them takes milliseconds.
SECONDS_A_MESSAGE = 5.0
MAX_BYTES = 4096


@pytest.fixture
def queues(aws: AwsContext, settings: Any) -> AwsContext:
    settings.MODULITH_TRANSPORT = "sqs"
    settings.MODULITH_MAX_RECEIVES = 10  # a retried message would stay on the queue
    call_command("provision", stdout=StringIO())
    return aws


@pytest.fixture
def order_id() -> UUID:
    order = Order.objects.create(
        customer_id="alice", total="10.00", currency="EUR", payment_token="tok_visa"
    )
    return UUID(str(order.id))


def wire(event_name: str, source: str, data: dict[str, Any]) -> dict[str, Any]:
    return Envelope(
        event_id=uuid4(),
        event_name=event_name,
        source=source,
        occurred_at=datetime.now(UTC),
        schema_version="2.0",
        data=data,
    ).to_wire()


def capture(order_id: UUID) -> dict[str, Any]:
    """payments' own capture of the order, in full: it would confirm the order."""
    data = {"orderId": str(order_id), "paymentId": str(uuid4()), "amount": "10.00"}
    return wire("PaymentCaptured", "payments.service", data | {"currency": "EUR"})


def without(metadata_key: str, order_id: UUID) -> str:
    body = capture(order_id)
    del body["detail"]["metadata"][metadata_key]
    return json.dumps(body)


def padded(order_id: UUID, size: int) -> str:
    """A capture whose body is `size` bytes (an ignored field makes up the rest)."""
    body = capture(order_id)
    body["detail"]["data"]["note"] = ""
    text = json.dumps(body)
    body["detail"]["data"]["note"] = "x" * (size - len(text))
    return json.dumps(body)


def held(value: str) -> Callable[[UUID], tuple[str, dict[str, Any]]]:
    """A capture of the order whose holds count attribute says `value`."""
    options = {"MessageAttributes": {HOLDS: {"DataType": "String", "StringValue": value}}}
    return lambda order_id: (json.dumps(capture(order_id)), options)


HOLDS_REFUSED = f"the {HOLDS} attribute must be a whole number from 0 to 999999, not "
# How to make each message (body, send options) for an order, and the reason it is dead.
Case = tuple[Callable[[UUID], tuple[str, dict[str, Any]]], str]
CASES: dict[str, Case] = {
    "no-event-id": (lambda o: (without("eventId", o), {}), "metadata.eventId is missing"),
    "no-time": (lambda o: (without("occurredAt", o), {}), "metadata.occurredAt is missing"),
    "nested-100k": (
        lambda o: ("[" * 100_000 + "]" * 100_000, {}),
        f"body nests deeper than {MAX_DEPTH} levels",
    ),
    **{
        f"holds-{value}": (held(value), f"{HOLDS_REFUSED}{value!r}")
        for value in ("abc", "1e9", "1000000000", "1e12", "-1", "")
    },
}


def one_poll(module: str = "orders") -> tuple[ConsumerReport, float]:
    started = time.monotonic()
    report = receive(consumer(module))
    return report, time.monotonic() - started


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.usefixtures("queues")
def test_a_message_the_consumer_cannot_parse_is_dead_at_its_first_receipt(
    order_id: UUID, case: Case
) -> None:
    make, reason = case
    body, options = make(order_id)
    send(body, **options)

    report, seconds = one_poll()

    assert report == ConsumerReport(dead=1)
    assert seconds < SECONDS_A_MESSAGE
    [letter] = take_all("orders", dead=True)
    assert (letter["Body"], reason_of(letter)) == (body, reason)
    assert depth("orders") == 0
    assert Order.objects.get(id=order_id).status == OrderStatus.PENDING
    assert not HandlingFailure.objects.using("orders").exists()


@pytest.mark.usefixtures("queues")
def test_the_dead_letter_listing_shows_absurd_messages_with_their_reasons(
    order_id: UUID,
) -> None:
    for name in ("nested-100k", "holds-1e12"):
        body, options = CASES[name][0](order_id)
        send(body, **options)
    assert receive(consumer(), messages=2) == ConsumerReport(dead=2)

    listing = StringIO()
    call_command("deadletters", "list", "--module", "orders", stdout=listing)

    lines = listing.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert any(line.endswith(f"? ?: {CASES['nested-100k'][1]}") for line in lines), lines
    assert any(
        " PaymentCaptured " in line and line.endswith(CASES["holds-1e12"][1]) for line in lines
    ), lines


@pytest.mark.usefixtures("queues")
def test_a_body_over_the_size_bound_is_dead_at_its_first_receipt_unread(
    order_id: UUID, settings: Any
) -> None:
    settings.MODULITH_MAX_EVENT_BYTES = MAX_BYTES
    body = padded(order_id, MAX_BYTES + 1)
    send(body)

    report, seconds = one_poll()

    assert report == ConsumerReport(dead=1)
    assert seconds < SECONDS_A_MESSAGE
    [letter] = take_all("orders", dead=True)
    assert (letter["Body"], reason_of(letter)) == (
        body,
        f"body is {MAX_BYTES + 1} bytes, more than the {MAX_BYTES} an event may have "
        "(MODULITH_MAX_EVENT_BYTES)",
    )
    assert Order.objects.get(id=order_id).status == OrderStatus.PENDING


@pytest.mark.parametrize("name", ["no-event-id", "nested-100k", "holds-1e12"])
@pytest.mark.usefixtures("queues")
def test_the_consume_function_dead_letters_what_it_cannot_parse_and_answers_it_done(
    order_id: UUID, name: str
) -> None:
    make, reason = CASES[name]
    body, options = make(order_id)
    send(body, **options)

    started = time.monotonic()
    [message], answer = EventSource().poll()

    assert time.monotonic() - started < SECONDS_A_MESSAGE
    assert answer == {"batchItemFailures": []}
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    [letter] = take_all("orders", dead=True)
    assert reason_of(letter) == reason
    assert Order.objects.get(id=order_id).status == OrderStatus.PENDING


@pytest.mark.usefixtures("queues")
def test_during_an_outage_a_record_with_an_unsound_holds_count_is_dead_not_sent_again(
    order_id: UUID,
) -> None:
    sound = json.dumps(capture(order_id))
    unsound, options = held("1e12")(order_id)
    send(sound)
    source = EventSource()
    [first] = source.receive()
    send(unsound, **options)
    [second] = source.receive()

    with database_down("orders"):  # the first finds it down; the rest are held unprocessed
        answer = source.invoke([first, second])

    assert answer == {"batchItemFailures": []}
    [letter] = take_all("orders", dead=True)
    assert (letter["Body"], reason_of(letter)) == (unsound, CASES["holds-1e12"][1])
    [copy] = source.receive()  # the sound one waits, sent again, for the database
    assert (copy["Body"], copy["MessageAttributes"][HOLDS]["StringValue"]) == (sound, "1")


# --- what the contract refuses from the wire ----------------------------------------------


def order_placed(*, customer: Any = "alice", quantity: Any = 1) -> dict[str, Any]:
    """orders' own OrderPlaced, but for what the test puts in it."""
    return wire(
        "OrderPlaced",
        "orders.service",
        {
            "orderId": str(uuid4()),
            "customerId": customer,
            "items": [{"sku": "KB-1", "quantity": quantity, "unitPrice": "10.00"}],
            "total": "10.00",
            "currency": "EUR",
        },
    )


REFUSED_DATA = {
    "quantity-as-text": (
        order_placed(quantity="5"),
        "OrderPlaced data is invalid: items.0.quantity: Input should be a valid integer",
    ),
    "quantity-as-float": (
        order_placed(quantity=5.0),
        "OrderPlaced data is invalid: items.0.quantity: Input should be a valid integer",
    ),
    "negative-quantity": (
        order_placed(quantity=-3),
        "OrderPlaced data is invalid: items.0.quantity: Input should be greater than or equal to 1",
    ),
    "customer-with-nul": (
        order_placed(customer="alice\u0000"),
        "OrderPlaced data is invalid: customerId: must not contain control or bidirectional "
        "formatting characters (found U+0000 at position 5)",
    ),
    "customer-with-bidi-override": (
        order_placed(customer="alice\u202eecila"),
        "OrderPlaced data is invalid: customerId: must not contain control or bidirectional "
        "formatting characters (found U+202E at position 5)",
    ),
    "customer-as-number": (
        order_placed(customer=42),
        "OrderPlaced data is invalid: customerId: Input should be a valid string",
    ),
}


@pytest.mark.parametrize("case", REFUSED_DATA.values(), ids=REFUSED_DATA.keys())
@pytest.mark.usefixtures("queues")
def test_data_the_contract_refuses_is_dead_at_once_and_reserves_nothing(case: Any) -> None:
    body, reason = case
    Product.objects.create(
        sku="KB-1", name="Keyboard", unit_price="10.00", currency="EUR", on_hand=5
    )
    send(json.dumps(body), module="inventory")

    report, _ = one_poll("inventory")

    assert report == ConsumerReport(dead=1)
    [letter] = take_all("inventory", dead=True)
    assert reason_of(letter) == reason
    assert not Reservation.objects.exists()
    assert Product.objects.get(sku="KB-1").reserved == 0
    assert not HandlingFailure.objects.using("inventory").exists()
