"""Moved to `modulith.database.urls`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved
from modulith.database.urls import (
    parse_database_url,
)

__all__ = [
    "parse_database_url",
]

moved("modulith.database_url", "modulith.database.urls")
