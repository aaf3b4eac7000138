"""The W3C trace context of the work in hand, carried through the outbox into every event."""

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_current: ContextVar[str] = ContextVar("modulith_traceparent", default="")


def new_traceparent(trace: str | None = None) -> str:
    """A traceparent with a new span id, in the given trace or a new one."""
    return f"00-{trace or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def parse_traceparent(value: str | None) -> str | None:
    """The trace id of a valid traceparent header, else None."""
    match = _TRACEPARENT.match((value or "").strip().lower())
    if not match or set(match.group(1)) == {"0"}:
        return None
    return match.group(1)


def traceparent_from_xray(header: str | None) -> str | None:
    """X-Amzn-Trace-Id / AWSTraceHeader "Root=1-5759e988-bd862e3fe1be46a994272793;..." as a
    traceparent in the same trace (X-Ray's root is the W3C trace id, split after 8 digits)."""
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root" and value.startswith("1-"):
            epoch, _, unique = value[2:].partition("-")
            if parse_traceparent(f"00-{epoch}{unique}-{'0' * 15}1-01"):
                return new_traceparent(f"{epoch}{unique}".lower())
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
def trace_context(traceparent: str | None) -> Iterator[str]:
    """Runs the block in the trace of `traceparent` (a child span), or in a new trace."""
    value = new_traceparent(parse_traceparent(traceparent))
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
