"""Trace context that follows a request through events and modules."""

from modulith.observability.trace import current_trace, new_traceparent, trace_context, trace_id

__all__ = ["current_trace", "new_traceparent", "trace_context", "trace_id"]
