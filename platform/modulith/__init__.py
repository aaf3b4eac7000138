"""modulith: modules that share nothing but contracts, and split off by configuration.

The names here are safe to import before Django is set up (module manifests and settings use
them). Names that touch the database live in `modulith.bus`, `modulith.ports` and
`modulith.http`, imported once apps are ready.
"""

from modulith.modules import Module
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
    "Module",
    "NotFound",
]
