"""Moved to `modulith.modules.checks`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved
from modulith.modules.checks import (
    raise_for_errors,
    register_checks,
)

__all__ = [
    "raise_for_errors",
    "register_checks",
]

moved("modulith.checks", "modulith.modules.checks")
