"""Moved to `modulith.modules.errors`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved
from modulith.modules.errors import (
    ConfigurationError,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
)

__all__ = [
    "ConfigurationError",
    "Conflict",
    "DomainError",
    "InvalidInput",
    "NotFound",
]

moved("modulith.errors", "modulith.modules.errors")
