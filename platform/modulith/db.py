"""Moved to `modulith.database.router`: this path keeps working, with a DeprecationWarning."""

from modulith.conf.moved import moved
from modulith.database.router import (
    ModuleRouter,
    database_of,
)

__all__ = [
    "ModuleRouter",
    "database_of",
]

moved("modulith.db", "modulith.database.router")
