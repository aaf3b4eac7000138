"""Trace context that follows a request through events and modules."""

from modulith.observability.trace import (
    current_trace,
    new_traceparent,
    trace_context,
    trace_id,
    traceparent_from_xray,
    xray_header,
)

__all__ = [
    "current_trace",
    "new_traceparent",
    "trace_context",
    "trace_id",
    "traceparent_from_xray",
    "xray_header",
]
