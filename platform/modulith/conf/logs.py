"""Django's LOGGING for the framework's log lines: JSON lines (or plain text for a terminal)
carrying the trace id, the module, the event and the correlation fields of the work in hand
(see modulith.observability.logs)."""

import os
from collections.abc import Mapping
from typing import Any

from modulith.conf.environment import env_str
from modulith.modules.errors import ConfigurationError

LOG_FORMATS = ("json", "plain")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def logging_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """LOGGING, from LOG_FORMAT (`json`, the default, or `plain`) and LOG_LEVEL (the root
    logger's, `INFO` by default). A project adds its own loggers to the dict it returns."""
    log_format = env_str("LOG_FORMAT", "json", environ).lower()
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(f"LOG_FORMAT must be json or plain, not {log_format!r}")
    level = env_str("LOG_LEVEL", "INFO", environ).upper()
    if level not in LOG_LEVELS:
        raise ConfigurationError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "modulith.observability.logs.ContextFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            # timestamp, level, logger, message, then the record's fields.
            "json": {"()": "modulith.observability.json_lines.JsonLines"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "botocore": {"level": "WARNING"},
            "boto3": {"level": "WARNING"},
            # One line per request (modulith.http.middleware.AccessLogMiddleware), whatever
            # LOG_LEVEL; Django's own "Not Found: /path" warnings would repeat it (server errors
            # still log).
            "modulith.http": {"level": "INFO"},
            "django.request": {"level": "ERROR"},
        },
    }
