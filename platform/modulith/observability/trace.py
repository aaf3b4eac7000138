"""The W3C trace context of the work in hand, carried through the outbox into every event.

Trace ids made here are also valid X-Ray trace ids (the first 8 hex digits are the epoch
seconds), so the same id reads the same in `traceparent`, `X-Amzn-Trace-Id` and the logs.
With OpenTelemetry switched on (`modulith.observability.otel`), every span this module opens is
a real span and the traceparent of the block is that span's: logs and spans agree.
"""

import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from modulith.observability import otel

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_current: ContextVar[str] = ContextVar("modulith_traceparent", default="")


def new_trace_id() -> str:
    """A new trace id that X-Ray accepts too: 8 hex digits of epoch seconds, 24 random."""
    return f"{int(time.time()):08x}{secrets.token_hex(12)}"


def new_traceparent(trace: str | None = None) -> str:
    """A traceparent with a new span id, in the given trace or a new one."""
    return f"00-{trace or new_trace_id()}-{secrets.token_hex(8)}-01"


# A traceparent is 55 characters; anything much longer is refused before it reaches the cache.
_LONGEST_TRACEPARENT = 64


def parse_traceparent(value: str | None) -> str | None:
    """The trace id of a valid traceparent header, else None."""
    if not value or len(value) > _LONGEST_TRACEPARENT:
        return None
    return _trace_id_of(value)


# Every hop of an event parses the same few traceparents again, within moments; every request
# brings new ones. A few hundred hold the hops in flight: 4,096 grew each worker of a soak by
# 1 MB over its first minutes (tracemalloc, benchmarks/soak.py) for no more hits.
@lru_cache(maxsize=256)
def _trace_id_of(value: str) -> str | None:
    match = _TRACEPARENT.match(value.strip().lower())
    if not match or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        return None
    return match.group(1)


def traceparent_from_xray(header: str | None) -> str | None:
    """X-Amzn-Trace-Id / AWSTraceHeader "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=...;
    Sampled=1" as a traceparent in the same trace (X-Ray's root is the W3C trace id, split after
    8 digits), whose parent span is X-Ray's Parent when it has one."""
    fields = {}
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        fields[key] = value.strip().lower()
    root = fields.get("Root", "")
    if not root.startswith("1-"):
        return None
    epoch, _, unique = root[2:].partition("-")
    trace = f"{epoch}{unique}"
    sampled = "00" if fields.get("Sampled") == "0" else "01"
    with_parent = f"00-{trace}-{fields.get('Parent', '')}-{sampled}"
    if parse_traceparent(with_parent):
        return with_parent
    if parse_traceparent(f"00-{trace}-{'0' * 15}1-01"):
        return new_traceparent(trace)
    return None


def xray_header(traceparent: str) -> str | None:
    """The AWSTraceHeader (X-Ray format) of a traceparent, for the slots AWS keeps for it."""
    match = _TRACEPARENT.match(traceparent)
    if not match:
        return None
    trace, span, flags = match.groups()
    sampled = int(flags, 16) & 1
    return f"Root=1-{trace[:8]}-{trace[8:]};Parent={span};Sampled={sampled}"


def current_trace() -> dict[str, str]:
    """Trace metadata for an event published now (empty outside any traced work)."""
    value = _current.get()
    return {"traceparent": value} if value else {}


def trace_id() -> str:
    return parse_traceparent(_current.get()) or ""


@contextmanager
def trace_context(
    traceparent: str | None,
    name: str = "",
    *,
    kind: str = "internal",
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[str]:
    """Runs the block in the trace of `traceparent` (a child span), or in a new trace.

    With OpenTelemetry on, the child span is a real span called `name` (of `kind`: server,
    client, producer, consumer, internal) and the block's traceparent is that span's.
    """
    parent = traceparent if parse_traceparent(traceparent) else None
    with otel.span(name, kind, attributes or {}, parent) as spanned:
        value = spanned or new_traceparent(parse_traceparent(parent))
        token = _current.set(value)
        try:
            yield value
        finally:
            _current.reset(token)


@contextmanager
def span(
    name: str, *, kind: str = "internal", attributes: Mapping[str, str | int] | None = None
) -> Iterator[str]:
    """A step of the work in hand (publishing, a call to another module): with OpenTelemetry
    on, a child span of the current one; otherwise the current trace as it is, or a new trace
    when there is none. Yields the traceparent to pass on."""
    current = _current.get()
    if current and not otel.enabled():
        yield current
        return
    with trace_context(current or None, name, kind=kind, attributes=attributes) as value:
        yield value
