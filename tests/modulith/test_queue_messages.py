"""An event read back from a queue message (in the shape SQS's ReceiveMessage gives it): our
wire JSON as the body whichever way it came, or a foreign producer's data with the event named
in the eventType attribute, read like a foreign EventBridge event."""

import json
import time
from typing import Any
from uuid import UUID

import pytest

from modulith.aws.messages import HOLDS, holds, message_attributes, message_envelope
from modulith.transports.envelope import MalformedEvent
from tests.modulith.test_envelope import MAX_BYTES, order_placed

MESSAGE_ID = "5d1b6a8e-3c2f-4e7a-9b1d-2f6e8a4c0d13"
FOREIGN_ID = "9f3e2d1c-0b4a-4c8e-a7f6-5e4d3c2b1a09"
SENT = "1796126855942"  # SentTimestamp, in milliseconds
DATA = {"orderId": "o-2", "items": []}


def message(body: Any, **attributes: str) -> dict[str, Any]:
    return {
        "MessageId": MESSAGE_ID,
        "Body": body if isinstance(body, str) else json.dumps(body),
        "Attributes": {"SentTimestamp": SENT, "ApproximateReceiveCount": "1"},
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    }


def test_our_event_with_its_attributes_is_read_from_its_body() -> None:
    sent = order_placed()
    attributes = {name: value["StringValue"] for name, value in message_attributes(sent).items()}

    assert message_envelope(message(sent.to_json(), **attributes), max_bytes=MAX_BYTES) == sent


def test_a_foreign_message_naming_its_event_in_an_attribute_has_the_whole_body_as_data() -> None:
    envelope = message_envelope(
        message(DATA, eventType="OrderPlaced", eventId=FOREIGN_ID, source="partner.checkout"),
        max_bytes=MAX_BYTES,
    )

    assert (envelope.event_name, envelope.source, envelope.data) == (
        "OrderPlaced",
        "partner.checkout",
        DATA,
    )
    assert envelope.event_id == UUID(FOREIGN_ID)
    assert envelope.occurred_at.isoformat() == "2026-12-01T12:07:35.942000+00:00"


def test_a_foreign_message_without_an_event_id_is_known_by_its_message_id() -> None:
    envelope = message_envelope(message(DATA, eventType="OrderPlaced"), max_bytes=MAX_BYTES)

    assert (envelope.event_id, envelope.source) == (UUID(MESSAGE_ID), "sns")
    assert envelope.foreign


def test_a_foreign_message_runs_in_the_trace_of_its_traceparent_attribute() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    envelope = message_envelope(
        message(DATA, eventType="OrderPlaced", traceparent=traceparent), max_bytes=MAX_BYTES
    )

    assert envelope.traceparent == traceparent


def test_a_foreign_event_id_that_is_not_a_uuid_is_malformed_and_says_so() -> None:
    with pytest.raises(MalformedEvent) as malformed:
        message_envelope(
            message(DATA, eventType="OrderPlaced", eventId="order-7"), max_bytes=MAX_BYTES
        )

    assert str(malformed.value) == "the eventId attribute must be a UUID, not 'order-7'"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (DATA, "detail-type is missing"),
        ("not json", "body is not JSON"),
        ([1, 2], "body must be a JSON object"),
    ],
)
def test_a_message_that_names_no_event_is_malformed(body: Any, error: str) -> None:
    with pytest.raises(MalformedEvent) as malformed:
        message_envelope(message(body), max_bytes=MAX_BYTES)

    assert str(malformed.value).startswith(error)


def test_a_body_over_the_bound_is_malformed_before_it_is_parsed() -> None:
    with pytest.raises(MalformedEvent) as malformed:
        message_envelope(message(order_placed().to_json()), max_bytes=100)

    assert malformed.value.reason == "oversized"


@pytest.mark.parametrize(("value", "count"), [(None, 0), ("0", 0), ("7", 7), ("999999", 999_999)])
def test_a_holds_count_in_digits_is_read(value: str | None, count: int) -> None:
    attributes = {} if value is None else {HOLDS: value}

    assert holds(message(DATA, **attributes)) == count


@pytest.mark.parametrize("value", ["abc", "1e9", "-1", "1000000", "1000000000000", "٣", " 1", ""])
def test_a_holds_count_that_is_not_a_small_whole_number_is_malformed(value: str) -> None:
    started = time.monotonic()
    with pytest.raises(MalformedEvent) as malformed:
        holds(message(DATA, **{HOLDS: value}))

    assert str(malformed.value).startswith(f"the {HOLDS} attribute must be a whole number")
    assert time.monotonic() - started < 0.1
