"""Moved to `modulith.aws.lambdas.web`: this path keeps working, with a DeprecationWarning."""

from modulith.aws.lambdas.web import (
    handler,
)
from modulith.conf.moved import moved

__all__ = [
    "handler",
]

moved("modulith.lambdas.web", "modulith.aws.lambdas.web")
