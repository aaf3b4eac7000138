"""The one wire format every transport carries: the EventBridge event shape.

    {"version": "0", "id": ..., "source": "orders.service", "detail-type": "OrderPlaced",
     "time": ..., "detail": {"metadata": {"eventId", "schemaVersion", "occurredAt",
     "traceparent", ...}, "data": {...camelCase payload...}}}

A message sent straight to SQS carries this JSON as its body, and EventBridge delivers the same
shape to a queue, so consumers parse one format. Only the fields we need are read: the emulator
omits `account`, and foreign producers vary.
"""

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WIRE_VERSION = "0"
# Where an envelope keeps its JSON once made (the dataclass is frozen; this is no field).
_JSON = "_json"


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
    """A message that is not an event in the wire format: it can never be handled."""


@dataclass(frozen=True)
class Envelope:
    event_id: uuid.UUID
    event_name: str
    source: str
    occurred_at: datetime
    schema_version: str
    data: dict[str, Any]
    trace: dict[str, str] = field(default_factory=dict)

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
            "detail": {"metadata": self.metadata(), "data": self.data},
        }

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
            return cls._from_foreign(wire, event_name, source, detail)
        except (TypeError, ValueError) as error:
            if isinstance(error, MalformedEvent):
                raise
            raise MalformedEvent(str(error)) from error

    @classmethod
    def from_json(cls, body: str) -> "Envelope":
        try:
            wire = json.loads(body)
        except json.JSONDecodeError as error:
            raise MalformedEvent(f"body is not JSON: {error}") from None
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
        return cls(
            event_id=uuid.UUID(str(metadata["eventId"])),
            event_name=event_name,
            source=source,
            occurred_at=datetime.fromisoformat(str(metadata["occurredAt"])),
            schema_version=str(metadata.get("schemaVersion", "1.0")),
            data=data,
            trace=trace,
        )

    @classmethod
    def _from_foreign(
        cls, wire: dict[str, Any], event_name: str, source: str, detail: dict[str, Any]
    ) -> "Envelope":
        time = wire.get("time")
        return cls(
            event_id=uuid.UUID(_required_str(wire, "id")),
            event_name=event_name,
            source=source,
            occurred_at=datetime.fromisoformat(time) if isinstance(time, str) else _now(),
            schema_version="1.0",
            data=detail,
        )


def _required_str(wire: dict[str, Any], key: str) -> str:
    value = wire.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{key} is missing")
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)
