"""The one wire format: the EventBridge event shape, with metadata and data in `detail`."""

import json
import time
from datetime import UTC, datetime
from typing import Any
from uuid import RFC_4122, UUID

import pytest

from modulith.transports.envelope import (
    MAX_DEPTH,
    Envelope,
    MalformedEvent,
    new_event_id,
    parse_json,
)

EVENT_ID = UUID("0b5c8e5e-4a5e-4c1e-9f50-1d8c2a6b9e01")
MAX_BYTES = 256 * 1024  # MODULITH_MAX_EVENT_BYTES's default


def order_placed() -> Envelope:
    return Envelope(
        event_id=EVENT_ID,
        event_name="OrderPlaced",
        source="orders.service",
        occurred_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        schema_version="1.0",
        data={"orderId": "o-1", "total": "10.00"},
        trace={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    )


def test_an_event_is_serialised_in_the_eventbridge_shape() -> None:
    assert order_placed().to_wire() == {
        "version": "0",
        "id": str(EVENT_ID),
        "source": "orders.service",
        "detail-type": "OrderPlaced",
        "time": "2026-11-27T12:00:00Z",
        "detail": {
            "metadata": {
                "eventId": str(EVENT_ID),
                "schemaVersion": "1.0",
                "occurredAt": "2026-11-27T12:00:00Z",
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            },
            "data": {"orderId": "o-1", "total": "10.00"},
        },
    }


def test_an_event_survives_the_round_trip_through_json() -> None:
    assert Envelope.from_json(order_placed().to_json(), max_bytes=MAX_BYTES) == order_placed()


def test_eventbridge_delivery_keeps_our_event_id_not_its_own() -> None:
    wire = order_placed().to_wire() | {"id": "eventbridge-assigned-id", "region": "eu-west-1"}

    assert Envelope.from_wire(wire).event_id == EVENT_ID


def test_a_foreign_producers_flat_detail_is_the_data() -> None:
    foreign: dict[str, Any] = {
        "id": "7b7e4c1a-2f7d-4a8e-8a57-4c2f0f5f6a11",
        "source": "partner.checkout",
        "detail-type": "OrderPlaced",
        "time": "2026-11-27T12:00:00Z",
        "detail": {"orderId": "o-9", "customerId": "c-1"},
    }

    envelope = Envelope.from_wire(foreign)

    assert envelope.event_id == UUID(foreign["id"])
    assert envelope.data == {"orderId": "o-9", "customerId": "c-1"}
    assert envelope.schema_version == "1.0"
    assert envelope.source == "partner.checkout"
    assert envelope.foreign
    assert not order_placed().foreign


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"source": "x", "detail": {}}', "detail-type is missing"),
        ('{"detail-type": "OrderPlaced", "source": "x", "detail": "text"}', "detail must be"),
        (
            '{"detail-type": "OrderPlaced", "source": "x", "id": "nope", "detail": {}}',
            "event id 'nope' is not a UUID",
        ),
    ],
)
def test_a_message_that_is_not_an_event_is_malformed(body: str, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        Envelope.from_json(body, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("eventId", "metadata.eventId is missing"),
        ("occurredAt", "metadata.occurredAt is missing"),
    ],
)
def test_our_shape_without_its_event_id_or_time_is_malformed_and_says_which(
    missing: str, reason: str
) -> None:
    wire = order_placed().to_wire()
    del wire["detail"]["metadata"][missing]

    with pytest.raises(MalformedEvent) as malformed:
        Envelope.from_wire(wire)

    assert str(malformed.value) == reason
    assert malformed.value.reason == "malformed"


def test_a_schema_version_that_is_not_text_is_malformed() -> None:
    wire = order_placed().to_wire()
    wire["detail"]["metadata"]["schemaVersion"] = 2

    with pytest.raises(MalformedEvent, match="schemaVersion must be a string"):
        Envelope.from_wire(wire)


# --- the bounded parser -------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_body_over_the_size_bound_is_refused_unread() -> None:
    body = json.dumps({"detail": "é" * 600}, ensure_ascii=False)  # 2 bytes a character
    assert len(body) < 1000 < len(body.encode())

    with pytest.raises(MalformedEvent) as malformed:
        parse_json(body, max_bytes=1000)

    assert malformed.value.reason == "oversized"
    assert str(malformed.value).startswith(
        f"body is {len(body.encode())} bytes, more than the 1000 "
    )
    assert parse_json(body, max_bytes=len(body.encode())) == {"detail": "é" * 600}


def test_nesting_up_to_the_bound_is_parsed_and_one_level_more_is_refused() -> None:
    assert parse_json(nested(MAX_DEPTH), max_bytes=MAX_BYTES) is not None
    assert parse_json('{"a": [{"b": [[]]}]}', max_bytes=MAX_BYTES) == {"a": [{"b": [[]]}]}

    with pytest.raises(MalformedEvent) as malformed:
        parse_json(nested(MAX_DEPTH + 1), max_bytes=MAX_BYTES)

    assert malformed.value.reason == "too_deep"
    assert str(malformed.value) == f"body nests deeper than {MAX_DEPTH} levels"


def test_brackets_inside_strings_are_text_not_nesting() -> None:
    text = json.dumps({"note": "[" * 1000 + '\\" {{ ' + "]" * 5, "n": ["]", "}"]})

    assert parse_json(text, max_bytes=MAX_BYTES)["n"] == ["]", "}"]


@pytest.mark.parametrize(
    "body",
    [
        nested(100_000),  # deeper than any recursive parser's stack
        "[" * 200_000,  # never closed
        '{"a": ' * 40_000 + "1" + "}" * 40_000,
        '"\\"' * 60_000 + "[" * 10,  # escaped quotes that never close a string
    ],
    ids=["nested", "unclosed", "objects", "escaped-quotes"],
)
def test_absurd_nesting_is_refused_within_a_bounded_time(body: str) -> None:
    started = time.monotonic()
    with pytest.raises(MalformedEvent):
        parse_json(body, max_bytes=MAX_BYTES)

    assert time.monotonic() - started < 0.5


def test_the_json_form_is_compact_and_stable() -> None:
    text = order_placed().to_json()

    assert json.loads(text) == order_placed().to_wire()
    assert ", " not in text
    assert text == order_placed().to_json()


def test_event_ids_are_time_ordered_uuids_so_the_outbox_indexes_grow_at_their_end() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_event_id() for _ in range(1000)]
    after = time.time_ns() // 1_000_000
    assert {event_id.version for event_id in ids} == {7}
    assert {event_id.variant for event_id in ids} == {RFC_4122}
    milliseconds = [event_id.int >> 80 for event_id in ids]
    assert milliseconds == sorted(milliseconds)
    assert before <= milliseconds[0]
    assert milliseconds[-1] <= after
    assert len(set(ids)) == len(ids)
    # As SQLite stores them (hex text) and PostgreSQL compares them (bytes), in order.
    assert [event_id.hex for event_id in ids[::100]] == sorted(e.hex for e in ids[::100])


def test_an_envelope_is_serialised_once_and_its_json_is_not_part_of_its_equality() -> None:
    envelope = order_placed()
    assert envelope.to_json() is envelope.to_json()
    assert envelope == order_placed()
    assert json.loads(envelope.to_json()) == envelope.to_wire()
