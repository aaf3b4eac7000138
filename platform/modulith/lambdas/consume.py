"""Moved to `modulith.aws.lambdas.consume`: this path keeps working, with a DeprecationWarning."""

from modulith.aws.lambdas.consume import (
    handler,
)
from modulith.conf.moved import moved

__all__ = [
    "handler",
]

moved("modulith.lambdas.consume", "modulith.aws.lambdas.consume")
