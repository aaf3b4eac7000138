"""A tie: one thing that binds a module to another unit (a module or one of the project's
other apps) through the database or the process, and what would replace it."""

from dataclasses import dataclass

from pydantic.alias_generators import to_pascal


@dataclass(frozen=True, order=True)
class Tie:
    module: str  # the module it stands in the way of
    kind: str  # "foreign key", "many-to-many", "signal", "join", ...
    what: str  # "blog.Post.author -> accounts.User"
    other: str  # the other unit
    replacement: str  # the event or query port that would take its place
    # Whether the database must hold both ends (a relation), rather than the process (a signal).
    structural: bool = True

    def __str__(self) -> str:
        return f"{self.kind}: {self.what}: {self.replacement}"


def port(unit: str) -> str:
    """The name a unit's query port would have: `accounts` gives AccountsQueries."""
    return f"{to_pascal(unit)}Queries"
