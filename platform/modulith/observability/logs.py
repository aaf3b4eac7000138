"""Log records that say what they are about: the trace, the module, the event being handled,
and the business ids named by MODULITH_LOG_CORRELATION_FIELDS (say, `["orderId"]`; none
unless the project names them).

`ContextFilter` (on the handlers, so that it sees every record) adds to each record:

- `trace_id` — of the work in hand (a request, an event being handled, a call);
- `modulith_module` — the module whose work it is: the subscriber handling the event, the
  module of the HTTP route, or else the modules running in this process (comma-separated).
  A JSON formatter renames it `module` (logging's own `module` is the source file's name);
- `event_id`, `event_name` — while an event is handled or relayed;
- one field per correlation field found in the event's data, or in the request's query string
  or path, snake_cased: `orderId` becomes `order_id`.

Fields set explicitly (`extra=`) win over the context. Fields unknown are left out.
"""

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from django.conf import settings

from modulith.conf import modulith_settings
from modulith.observability import process
from modulith.observability.trace import parse_traceparent, trace_id

MODULE = "modulith_module"

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("modulith_log_context", default=_EMPTY)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        if getattr(record, "trace_id", None) is None and (current := trace_id()):
            record.trace_id = current
        if getattr(record, MODULE, None) is None and (running := process.current().module_names):
            setattr(record, MODULE, running)
        return True


@contextmanager
def log_context(*, module: str | None = None, **fields: str | None) -> Iterator[dict[str, str]]:
    """Adds these fields to every record logged in the block (None values are left out).
    Yields the fields in force, which the block may add to."""
    given = {MODULE: module, **fields}
    merged = {**_context.get(), **{key: value for key, value in given.items() if value}}
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def correlation_fields(values: Mapping[str, Any]) -> dict[str, str]:
    """The correlation fields found in `values` (by their name or its snake_case), as record
    attributes: {"orderId": "…"} gives {"order_id": "…"}."""
    # Before Django's settings exist (a line logged at import) there are none.
    names = modulith_settings().log_correlation_fields if settings.configured else ()
    found = {}
    for name in names:
        attribute = snake_case(name)
        for key in (name, attribute):
            value = values.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                found[attribute] = str(value)
                break
    return found


def event_fields(
    *,
    module: str,
    event_id: object,
    event_name: str,
    data: Mapping[str, Any] | None = None,
    traceparent: str | None = None,
) -> dict[str, str]:
    """The record attributes of a line about one event (for `extra=`)."""
    fields = {
        MODULE: module,
        "event_id": str(event_id),
        "event_name": event_name,
        **correlation_fields(data or {}),
    }
    if trace := parse_traceparent(traceparent):
        fields["trace_id"] = trace
    return fields


def snake_case(name: str) -> str:
    return _CAMEL.sub("_", name).lower()
