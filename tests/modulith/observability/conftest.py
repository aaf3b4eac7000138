"""Fixtures for observability: JSON log lines as the project formats them, and OpenTelemetry
spans kept in memory."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings

from modulith.observability.json_lines import JsonLines
from modulith.observability.logs import ContextFilter
from tests.aws.conftest import aws, aws_emulator  # noqa: F401  (the emulator, for the split)

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_log() -> Iterator[LogLines]:
    """Every record from now on, formatted by the project's JSON formatter (settings.LOGGING)
    after the project's context filter, parsed back: one dict a line."""
    configured = django_settings.LOGGING
    assert configured["formatters"]["json"] == {"()": "modulith.observability.json_lines.JsonLines"}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


@pytest.fixture
def spans(settings: Any) -> Iterator[Any]:
    """OpenTelemetry switched on, with every finished span kept in memory (the exporter)."""
    exporter = _exporter()
    exporter.clear()
    settings.MODULITH_OTEL = True
    yield exporter
    exporter.clear()


_exporters: list[Any] = []


def _exporter() -> Any:
    """One in-memory exporter for the process, on the global tracer provider (which can be
    set only once)."""
    if not _exporters:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        _exporters.append(exporter)
    return _exporters[0]
