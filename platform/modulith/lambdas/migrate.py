"""Moved to `modulith.aws.lambdas.migrate`: this path keeps working, with a DeprecationWarning."""

from modulith.aws.lambdas.migrate import (
    handler,
)
from modulith.conf.moved import moved

__all__ = [
    "handler",
]

moved("modulith.lambdas.migrate", "modulith.aws.lambdas.migrate")
