"""Log records as JSON lines, with the standard library's json.

Each line holds `timestamp` (ISO 8601, UTC), `level`, `logger` and `message`, then `exc_info`
and `stack_info` when the record has them, then every field the record carries beyond
logging's own: the context `ContextFilter` adds (the trace id, the module, the event, the
correlation fields) and what the call passed as `extra=`. The module is written `module`
(logging's own `module`, the source file's name, is left out with the rest of its attributes).
"""

import json
import logging
from datetime import UTC, date, datetime, time
from typing import Any

from modulith.observability.logs import MODULE

# The attributes every record has, and those formatting adds: none of them is a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}
_NAMES = {MODULE: "module"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line[_NAMES.get(key, key)] = value
        return json.dumps(line, default=_as_text)


def _as_text(value: object) -> str:
    """What json cannot write: dates and times in ISO 8601, anything else as its text."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
