"""What stands between a module and a database (and a service) of its own: relations across
module lines, the user model, signals, queries that join or write across modules. Each tie
says which contract, an event or a query port, would replace it (docs/adopting.md)."""

from modulith.readiness.report import module_ties, readiness_lines, shared_database_refusal
from modulith.readiness.ties import Tie
from modulith.readiness.units import module_tables, unit_of_path

__all__ = [
    "Tie",
    "module_tables",
    "module_ties",
    "readiness_lines",
    "shared_database_refusal",
    "unit_of_path",
]
