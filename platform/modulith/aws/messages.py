"""An event as an SQS or SNS message: the attributes it carries beside its body (those we
publish it with, and those a dead-lettered or held message gains), and the envelope read back
from a message received from a queue.

Our events' body is the wire JSON whichever way they came: straight to SQS, through
EventBridge, or through SNS with raw message delivery (which keeps the message attributes
too). A foreign producer publishing to a topic (`aws sns publish`) sends its data as the body
and names the event in the `eventType` attribute: such a message is read like a foreign
EventBridge event, its data the whole body, its id the `eventId` attribute if it gives one
(a UUID), else the queue message's id.

Everything a message carries is untrusted: its body is parsed within bounds (size, depth), and
its attributes are read strictly; what fails is MalformedEvent, dead-lettered at once.
"""

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from modulith.modules import Topology
from modulith.observability.trace import traceparent_from_xray
from modulith.transports.envelope import Envelope, MalformedEvent, parse_json

EVENT_NAME = "eventType"  # what the subscriptions' filter policies match
EVENT_ID = "eventId"
SOURCE = "source"
TRACEPARENT = "traceparent"
# The source of a foreign message that names none.
FOREIGN_SOURCE = "sns"
# What a message moved to its dead-letter queue carries besides.
DEAD_LETTER_REASON = "deadLetterReason"
DEAD_LETTER_SOURCE = "deadLetterSourceQueue"
DEAD_LETTERED_AT = "deadLetteredAt"
# How many times a message was sent again because what its handlers need was down.
HOLDS = "modulithHolds"
# The most a holds count says: an outage of years at the longest pause. A bound on the attribute,
# not on holding: a count at the bound stays there.
MAX_HOLDS = 999_999
_HOLDS_VALUE = re.compile(r"[0-9]{1,6}")
# What SQS and SNS take as a message group id: up to 128 letters, digits and punctuation.
_GROUP_ID = re.compile(r"[!-~]{1,128}")
# The largest message SQS takes: no message can be larger, whatever a setting says.
SQS_MAX_MESSAGE_BYTES = 1024 * 1024

Message = dict[str, Any]  # as ReceiveMessage returns it


def message_attributes(envelope: Envelope) -> dict[str, Any]:
    """What a filter policy, a consumer or an operator in the console can read without parsing
    the body."""
    attributes = {
        EVENT_NAME: envelope.event_name,
        EVENT_ID: str(envelope.event_id),
        SOURCE: envelope.source,
    }
    if envelope.traceparent:
        attributes[TRACEPARENT] = envelope.traceparent
    return {key: string_attribute(value) for key, value in attributes.items()}


def string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def message_envelope(message: Message, *, max_bytes: int) -> Envelope:
    """The event a received SQS message carries, with the trace it came in (the body's, else
    the traceparent attribute's, else the X-Ray header's). Raises MalformedEvent, also for a
    body over `max_bytes`."""
    attributes = message.get("MessageAttributes", {})
    wire = parse_json(message["Body"], max_bytes=max_bytes)
    if not isinstance(wire, dict):
        raise MalformedEvent("body must be a JSON object")
    event_name = _attribute(attributes, EVENT_NAME)
    if event_name and "detail-type" not in wire:
        wire = _foreign_wire(message, attributes, event_name, wire)
    envelope = Envelope.from_wire(wire)
    if envelope.traceparent:
        return envelope
    traceparent = _attribute(attributes, TRACEPARENT) or traceparent_from_xray(
        message.get("Attributes", {}).get("AWSTraceHeader")
    )
    return replace(envelope, trace={"traceparent": traceparent}) if traceparent else envelope


def holds(message: Message) -> int:
    """How many times the message was held already (0 for one never held). Raises
    MalformedEvent for a count that is not a small non-negative integer in digits: the count
    becomes an exponent of the backoff, so it is read before anything trusts it."""
    value = message.get("MessageAttributes", {}).get(HOLDS)
    if value is None:
        return 0
    text = value.get("StringValue")
    if not isinstance(text, str) or not _HOLDS_VALUE.fullmatch(text):
        shown = repr(text[:20]) if isinstance(text, str) else "no value"
        raise MalformedEvent(
            f"the {HOLDS} attribute must be a whole number from 0 to {MAX_HOLDS}, not {shown}"
        )
    return int(text)


def _foreign_wire(
    message: Message, attributes: dict[str, Any], event_name: str, data: dict[str, Any]
) -> dict[str, Any]:
    """A foreign message in the shape of a foreign EventBridge event: a flat `detail`."""
    event_id = _attribute(attributes, EVENT_ID)
    if event_id is not None:
        try:
            uuid.UUID(event_id)
        except ValueError:
            raise MalformedEvent(
                f"the {EVENT_ID} attribute must be a UUID, not {event_id!r}"
            ) from None
    wire = {
        "id": event_id or str(message["MessageId"]),
        "source": _attribute(attributes, SOURCE) or FOREIGN_SOURCE,
        "detail-type": event_name,
        "detail": data,
    }
    sent = message.get("Attributes", {}).get("SentTimestamp")
    if sent:
        wire["time"] = datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat()
    return wire


def _attribute(attributes: dict[str, Any], name: str) -> str | None:
    value = attributes.get(name, {})
    if value.get("DataType", "").startswith("String") and value.get("StringValue"):
        return str(value["StringValue"])
    return None


def add_fifo_fields(
    entries: Sequence[dict[str, Any]], envelopes: Sequence[Envelope], topology: Topology
) -> None:
    """What the entries of a batch to a FIFO queue or topic carry besides: each one's message
    group, its event's ordering key (an unordered event's own id: a group of its own), and
    its deduplication id, the event id, so a send repeated after a lost answer is one message.
    A key AWS would refuse as a group id (a space, a letter outside ASCII) is replaced by its
    digest: the same key, the same group."""
    for entry, envelope in zip(entries, envelopes, strict=True):
        key = topology.ordering_value(envelope.event_name, envelope.data)
        group = str(envelope.event_id) if key is None else key
        if not _GROUP_ID.fullmatch(group):
            group = "sha256-" + hashlib.sha256(group.encode()).hexdigest()
        entry["MessageGroupId"] = group
        entry["MessageDeduplicationId"] = str(envelope.event_id)


def message_group(message: Message) -> str | None:
    """The message group of a message received from a FIFO queue (None from a standard one)."""
    group = message.get("Attributes", {}).get("MessageGroupId")
    return None if group is None else str(group)


class GroupsBehind:
    """The message groups (of a FIFO queue) in which a message failed in the batch in hand,
    and the later messages of those groups, held back unhandled: the group's order stands,
    as SQS keeps it, and the other groups go on."""

    def __init__(self) -> None:
        self.groups: set[str] = set()
        self.held: list[Message] = []

    def failed(self, message: Message) -> None:
        if (group := message_group(message)) is not None:
            self.groups.add(group)

    def holds(self, message: Message) -> bool:
        """Whether the message waits behind a failed one of its group (and is now held)."""
        if self.groups and message_group(message) in self.groups:
            self.held.append(message)
            return True
        return False
