"""Queries that need two modules in one database, as the test suite saw them (the pytest
plugin's `--modulith-queries FILE`): one statement joining their tables, or one transaction
writing one's tables and touching another's. The file holds one JSON object a line."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from modulith.errors import ConfigurationError
from modulith.modules import Topology
from modulith.readiness.ties import Tie, port

JOIN = "join"
TRANSACTION = "transaction"


@dataclass(frozen=True)
class CrossingQuery:
    """A statement (a join) or a transaction that touched the tables of several units."""

    kind: str  # JOIN or TRANSACTION
    test: str  # the test it ran in
    units: tuple[str, ...]  # whose tables it touched
    written: tuple[str, ...]  # whose tables it wrote
    tables: tuple[str, ...]
    sql: str  # the (first) statement, for the reader

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, line: str) -> "CrossingQuery":
        data = json.loads(line)
        return cls(
            kind=str(data["kind"]),
            test=str(data["test"]),
            units=tuple(data["units"]),
            written=tuple(data["written"]),
            tables=tuple(data["tables"]),
            sql=str(data["sql"]),
        )


def read_queries(path: Path) -> list[CrossingQuery]:
    """The crossings recorded in `path`, each kind and set of tables once (as first seen)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigurationError(f"cannot read the recorded queries {path}: {error}") from None
    seen: dict[tuple[str, tuple[str, ...]], CrossingQuery] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            query = CrossingQuery.parse(line)
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigurationError(
                f"{path}:{number} is not a query the pytest plugin recorded: {error}"
            ) from None
        seen.setdefault((query.kind, query.tables), query)
    return list(seen.values())


def query_ties(topology: Topology, queries: list[CrossingQuery]) -> list[Tie]:
    ties = []
    for query in queries:
        for module in query.units:
            if topology.named(module) is None:
                continue
            others = [unit for unit in query.units if unit != module]
            what = f"{', '.join(query.tables)} in {query.test}"
            if query.kind == JOIN:
                replacement = (
                    f"{module} reads what it needs of {', '.join(others)} through "
                    f"{', '.join(port(unit) for unit in others)} and joins in Python"
                )
            else:
                replacement = (
                    f"the write to {', '.join(query.written)} publishes an event, and the rest "
                    "runs in its handlers (what is read, through a query port, before it)"
                )
            ties.append(Tie(module, f"{query.kind} across modules", what, others[0], replacement))
    return ties
