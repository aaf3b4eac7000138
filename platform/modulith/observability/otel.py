"""OpenTelemetry spans, when the SDK is installed and switched on; nothing at all otherwise.

Switched on by the `MODULITH_OTEL` setting (by default on when `OTEL_TRACES_EXPORTER` names
an exporter or `OTEL_EXPORTER_OTLP_ENDPOINT` is set). opentelemetry-sdk is the [otel] extra:
switched off, every function here is a no-op and nothing of OpenTelemetry is imported; switched
on without it, the process does not start (one line naming the extra, from
`modulith.runtime.bootstrap`).

Spans are opened by `modulith.observability.trace`, which keeps the W3C traceparent the
framework carries through requests, the outbox and queues: a span's parent is the traceparent
of the caller, and the traceparent passed on is the span's own, so logs and spans carry one
trace id. When a provider is already installed (by `opentelemetry-instrument`, or a test), it
is used as it is; otherwise one is made on first use:

- trace ids in the X-Ray format (epoch seconds first), like AwsXRayIdGenerator;
- the exporter named by OTEL_TRACES_EXPORTER (`otlp` when only OTEL_EXPORTER_OTLP_ENDPOINT is
  set; `console`; `none`), found the standard way, through the `opentelemetry_traces_exporter`
  entry points (so `otlp` needs opentelemetry-exporter-otlp);
- the X-Ray propagator (opentelemetry-propagator-aws-xray) next to W3C trace context, for
  other instrumentations, when it is installed and OTEL_PROPAGATORS is not set;
- `service.name` from OTEL_SERVICE_NAME, else `modulith-<the modules running here>`.
"""

import logging
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from django.conf import settings

from modulith.conf import modulith_settings
from modulith.observability import process

log = logging.getLogger(__name__)

# Span attributes.
MODULE = "modulith.module"
EVENT = "modulith.event"
EVENT_ID = "modulith.event_id"

_lock = threading.Lock()
_tracer: Any = None


def enabled() -> bool:
    """OpenTelemetry is switched on (and so installed: `modulith.runtime.bootstrap` checks)."""
    return _switched_on()


def event_attributes(module: str, event_name: str, event_id: object) -> dict[str, str | int]:
    return {MODULE: module, EVENT: event_name, EVENT_ID: str(event_id)}


@contextmanager
def span(
    name: str, kind: str, attributes: Mapping[str, str | int], parent: str | None
) -> Iterator[str | None]:
    """A span called `name`, child of the `parent` traceparent (a new trace without one), made
    current for the block; yields its traceparent, or None when OpenTelemetry is off."""
    tracer = _get_tracer() if name and _switched_on() else None
    if tracer is None:
        yield None
        return
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    # Explicitly the parent given, never whatever span happens to be current.
    context = (
        TraceContextTextMapPropagator().extract({"traceparent": parent}, context=Context())
        if parent
        else Context()
    )
    with tracer.start_as_current_span(
        name, context=context, kind=SpanKind[kind.upper()], attributes=dict(attributes)
    ) as current:
        spanned = current.get_span_context()
        yield f"00-{spanned.trace_id:032x}-{spanned.span_id:016x}-{int(spanned.trace_flags):02x}"


def annotate(attributes: Mapping[str, str | int]) -> None:
    """Adds attributes to the current span (when there is one)."""
    if _tracer is not None and _switched_on():
        from opentelemetry import trace

        trace.get_current_span().set_attributes(dict(attributes))


def rename(name: str) -> None:
    if _tracer is not None and _switched_on():
        from opentelemetry import trace

        trace.get_current_span().update_name(name)


def fail(description: str) -> None:
    """Marks the current span as failed (for failures that are answers, not exceptions)."""
    if _tracer is not None and _switched_on():
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        trace.get_current_span().set_status(Status(StatusCode.ERROR, description))


def _switched_on() -> bool:
    return settings.configured and modulith_settings().otel


def _get_tracer() -> Any:
    global _tracer
    if _tracer is not None:
        return _tracer
    with _lock:
        if _tracer is None:
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider

            if not isinstance(trace.get_tracer_provider(), TracerProvider):
                trace.set_tracer_provider(_provider())
            _tracer = trace.get_tracer("modulith")
    return _tracer


def _provider() -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = (
        {}
        if os.environ.get("OTEL_SERVICE_NAME")
        else {"service.name": process.current().service_name}
    )
    provider = TracerProvider(resource=Resource.create(attributes), id_generator=_xray_ids())
    exporter = _exporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    _add_xray_propagator()
    return provider


def _xray_ids() -> Any:
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class XRayIdGenerator(RandomIdGenerator):
        """Trace ids X-Ray accepts: the first 32 bits are the epoch seconds."""

        def generate_trace_id(self) -> int:
            return (int(time.time()) << 96) | random.getrandbits(96)

    return XRayIdGenerator()


def _exporter() -> Any:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    name = os.environ.get("OTEL_TRACES_EXPORTER") or ("otlp" if endpoint else "none")
    name = name.split(",")[0].strip().lower()
    if name == "none":
        return None
    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        log.warning(
            "OTEL_TRACES_EXPORTER=%s: no such span exporter is installed (for otlp: "
            "pip install opentelemetry-exporter-otlp); spans are made but not exported",
            name,
        )
        return None
    return next(iter(found)).load()()


def _add_xray_propagator() -> None:
    if os.environ.get("OTEL_PROPAGATORS"):
        return  # the standard variable decides
    try:
        from opentelemetry.propagators.aws import AwsXRayPropagator  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagate import set_global_textmap
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    set_global_textmap(
        CompositePropagator(
            [TraceContextTextMapPropagator(), W3CBaggagePropagator(), AwsXRayPropagator()]
        )
    )
