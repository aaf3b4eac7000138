"""The one wire format every transport carries: the EventBridge event shape.

    {"version": "0", "id": ..., "source": "orders.service", "detail-type": "OrderPlaced",
     "time": ..., "detail": {"metadata": {"eventId", "schemaVersion", "occurredAt",
     "traceparent", ...}, "data": {...camelCase payload...}}}

A message sent straight to SQS carries this JSON as its body, and EventBridge delivers the same
shape to a queue, so consumers parse one format. Only the fields we need are read: the emulator
omits `account`, and foreign producers vary.

An event too large for its transport travels by claim check: its `detail` holds, instead of
`data`, `dataRef` = {"bucket", "key", "size", "sha256"}, naming the object that holds the data's
JSON (`DataReference`). Parsed here, resolved by the consumer before anything reads the data
(`modulith.aws.claim_checks`).

Whatever comes from outside is parsed by `parse_json`, which bounds what parsing may cost
before it starts: the size of the text, and how deep its arrays and objects nest.
"""

import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

WIRE_VERSION = "0"
# How deep the arrays and objects of a message may nest. Ours nest 5 deep; a foreign producer's
# data gets room, but not the thousands of levels that exhaust a recursive parser or validator.
MAX_DEPTH = 32
# Where an envelope keeps its JSON once made (the dataclass is frozen; this is no field).
_JSON = "_json"
DATA_REFERENCE = "dataRef"
# What a claim check's reference is refused as, a label for metrics.
INVALID_REFERENCE = "claim_check_invalid"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def new_event_id() -> uuid.UUID:
    """A time-ordered UUID (version 7, RFC 9562: milliseconds since the epoch, then the
    fraction of the millisecond in 12 bits, then 62 random bits). Events published one after
    the other get increasing ids, so the outbox's and the inbox's indexes on them grow at their
    right edge: with random ids every insert split a full page somewhere in the history, and
    the pages a commit (and so a checkpoint) writes grew with it."""
    nanoseconds = time.time_ns()
    milliseconds, rest = divmod(nanoseconds, 1_000_000)
    fraction = rest * 4096 // 1_000_000
    value = (milliseconds & (2**48 - 1)) << 80 | 7 << 76 | fraction << 64
    value |= 0b10 << 62 | secrets.randbits(62)
    return uuid.UUID(int=value)


class MalformedEvent(ValueError):
    """A message that is not an event in the wire format: it can never be handled. `reason` is
    its kind, a label for metrics: malformed, oversized or too_deep."""

    def __init__(self, message: str, *, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


# A JSON string, or an unterminated one up to the end (the parser then refuses it): possessive,
# so a scan never backtracks and costs time in proportion to the text.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_INNERMOST_PAIR = re.compile(r"\[\]|\{\}")


def parse_json(text: str, *, max_bytes: int) -> Any:
    """A JSON document from outside, refused (MalformedEvent) before any parsing when it is
    larger than `max_bytes` of UTF-8 or nests deeper than MAX_DEPTH: the work it costs is
    bounded by its size, whatever it holds."""
    size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise MalformedEvent(
            f"body is {size} bytes, more than the {max_bytes} an event may have "
            "(MODULITH_MAX_EVENT_BYTES)",
            reason="oversized",
        )
    _check_depth(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedEvent(f"body is not JSON: {error}") from None
    except RecursionError:  # deeper than the interpreter's stack, however the scan missed it
        raise MalformedEvent(
            f"body nests deeper than {MAX_DEPTH} levels", reason="too_deep"
        ) from None


def _check_depth(text: str) -> None:
    """Strips the strings, keeps the brackets, and removes the innermost pairs once a level:
    after MAX_DEPTH rounds nothing may be left. Each round is one pass in C over the brackets.
    Brackets that do not pair up are not JSON: the parser says where, and stops at its own
    recursion limit (RecursionError) before any deeper."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(MAX_DEPTH):
        inner = _INNERMOST_PAIR.sub("", brackets)
        if inner == brackets:  # empty, or unpaired
            return
        brackets = inner
    if brackets and _INNERMOST_PAIR.search(brackets):
        raise MalformedEvent(f"body nests deeper than {MAX_DEPTH} levels", reason="too_deep")


@dataclass(frozen=True)
class DataReference:
    """Where an event's data waits when the event came by claim check: the object `key` of
    `bucket`, `size` bytes of JSON whose SHA-256 is `sha256` (lowercase hex)."""

    bucket: str
    key: str
    size: int
    sha256: str

    def to_wire(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_wire(cls, wire: object) -> "DataReference":
        """Refuses (MalformedEvent, reason claim_check_invalid) any reference that is not of
        this shape; what it names is checked by whoever resolves it."""
        if not isinstance(wire, dict) or set(wire) != {"bucket", "key", "size", "sha256"}:
            raise MalformedEvent(
                f"{DATA_REFERENCE} must be an object of exactly bucket, key, size and sha256",
                reason=INVALID_REFERENCE,
            )
        bucket, key, size, digest = wire["bucket"], wire["key"], wire["size"], wire["sha256"]
        if not isinstance(bucket, str) or not 3 <= len(bucket) <= 63:
            raise MalformedEvent(
                f"{DATA_REFERENCE}.bucket must be a bucket name", reason=INVALID_REFERENCE
            )
        if not isinstance(key, str) or not 1 <= len(key) <= 1024:
            raise MalformedEvent(
                f"{DATA_REFERENCE}.key must be an object key", reason=INVALID_REFERENCE
            )
        if isinstance(size, bool) or not isinstance(size, int) or size < 2:
            raise MalformedEvent(
                f"{DATA_REFERENCE}.size must be the data's length in bytes",
                reason=INVALID_REFERENCE,
            )
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise MalformedEvent(
                f"{DATA_REFERENCE}.sha256 must be 64 lowercase hex digits", reason=INVALID_REFERENCE
            )
        return cls(bucket=bucket, key=key, size=size, sha256=digest)


@dataclass(frozen=True)
class Envelope:
    event_id: uuid.UUID
    event_name: str
    source: str
    occurred_at: datetime
    schema_version: str
    data: dict[str, Any]
    trace: dict[str, str] = field(default_factory=dict)
    # A foreign producer's shape (a flat `detail`, or a message naming its event in an
    # attribute), which our modules never send.
    foreign: bool = False
    # Made by this process's `publish` from an event it had validated, and never on a wire: its
    # data needs no strict reading as JSON. Any envelope parsed from a wire, a queue or an
    # outbox row has it False.
    published_here: bool = field(default=False, compare=False)
    # Came by claim check: the data is in the object this names, and `data` is empty until the
    # consumer resolves it.
    data_reference: DataReference | None = None

    @property
    def traceparent(self) -> str:
        return self.trace.get("traceparent", "")

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": WIRE_VERSION,
            "id": str(self.event_id),
            "source": self.source,
            "detail-type": self.event_name,
            "time": _iso(self.occurred_at),
            "detail": {"metadata": self.metadata(), **self._data_or_reference()},
        }

    def _data_or_reference(self) -> dict[str, Any]:
        if self.data_reference is None:
            return {"data": self.data}
        return {DATA_REFERENCE: self.data_reference.to_wire()}

    def metadata(self) -> dict[str, Any]:
        return {
            "eventId": str(self.event_id),
            "schemaVersion": self.schema_version,
            "occurredAt": _iso(self.occurred_at),
            **self.trace,
        }

    def to_json(self) -> str:
        """The wire form as a message body; made once per envelope (the relay sizes its batches
        by it and the transport then sends it)."""
        body: str | None = self.__dict__.get(_JSON)
        if body is None:
            body = self.__dict__[_JSON] = json.dumps(
                self.to_wire(), separators=(",", ":"), sort_keys=True
            )
        return body

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> "Envelope":
        """Parses our own events and those of foreign producers (a flat `detail`)."""
        try:
            event_name = _required_str(wire, "detail-type")
            source = _required_str(wire, "source")
            detail = wire.get("detail")
            if not isinstance(detail, dict):
                raise MalformedEvent("detail must be a JSON object")
            metadata = detail.get("metadata")
            if isinstance(metadata, dict) and isinstance(detail.get("data"), dict):
                return cls._from_own(event_name, source, metadata, detail["data"])
            if isinstance(metadata, dict) and DATA_REFERENCE in detail and "data" not in detail:
                reference = DataReference.from_wire(detail[DATA_REFERENCE])
                return replace(
                    cls._from_own(event_name, source, metadata, {}), data_reference=reference
                )
            return cls._from_foreign(wire, event_name, source, detail)
        except MalformedEvent:
            raise
        except (TypeError, ValueError, OverflowError) as error:
            raise MalformedEvent(str(error)) from None

    @classmethod
    def from_json(cls, body: str, *, max_bytes: int) -> "Envelope":
        wire = parse_json(body, max_bytes=max_bytes)
        if not isinstance(wire, dict):
            raise MalformedEvent("body must be a JSON object")
        return cls.from_wire(wire)

    @classmethod
    def _from_own(
        cls, event_name: str, source: str, metadata: dict[str, Any], data: dict[str, Any]
    ) -> "Envelope":
        trace = {
            key: str(value)
            for key, value in metadata.items()
            if key not in {"eventId", "schemaVersion", "occurredAt"}
        }
        version = metadata.get("schemaVersion", "1.0")
        if not isinstance(version, str):
            raise MalformedEvent("metadata.schemaVersion must be a string")
        return cls(
            event_id=_uuid(_required_str(metadata, "eventId", "metadata.")),
            event_name=event_name,
            source=source,
            occurred_at=datetime.fromisoformat(_required_str(metadata, "occurredAt", "metadata.")),
            schema_version=version,
            data=data,
            trace=trace,
        )

    @classmethod
    def _from_foreign(
        cls, wire: dict[str, Any], event_name: str, source: str, detail: dict[str, Any]
    ) -> "Envelope":
        time = wire.get("time")
        return cls(
            event_id=_uuid(_required_str(wire, "id")),
            event_name=event_name,
            source=source,
            occurred_at=datetime.fromisoformat(time) if isinstance(time, str) else _now(),
            schema_version="1.0",
            data=detail,
            foreign=True,
        )


def _required_str(wire: dict[str, Any], key: str, within: str = "") -> str:
    value = wire.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{within}{key} is missing")
    return value


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise MalformedEvent(f"event id {value[:100]!r} is not a UUID") from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)
