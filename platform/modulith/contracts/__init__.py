"""What a module author's contracts are made of: the bases of the events and values that cross
a module boundary, the strict types their fields are made of, and the errors a query port
raises.

Pydantic and the standard library only (no Django, nothing else of the framework), so a
project's `contracts/` stays pure by importing nothing of modulith but this.
"""

from modulith.contracts.base import ContractModel, Converter, Event
from modulith.contracts.errors import ProviderError, ProviderUnavailable, QueryError
from modulith.contracts.evolution import VersionGap, unchanged
from modulith.contracts.text import CleanText, TextConstraints

__all__ = [
    "CleanText",
    "ContractModel",
    "Converter",
    "Event",
    "ProviderError",
    "ProviderUnavailable",
    "QueryError",
    "TextConstraints",
    "VersionGap",
    "unchanged",
]
