"""Moved to `modulith.aws.lambdas.relay`: this path keeps working, with a DeprecationWarning."""

from modulith.aws.lambdas.relay import (
    handler,
)
from modulith.conf.moved import moved

__all__ = [
    "handler",
]

moved("modulith.lambdas.relay", "modulith.aws.lambdas.relay")
