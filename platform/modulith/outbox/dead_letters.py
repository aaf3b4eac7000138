"""The one interface of dead letters: events given up on, kept with their reason until
replayed. Each transport keeps them somewhere (the outbox's dead deliveries, whatever the
transport; a queue's dead-letter queue too, for the queue transports); `modulith.runtime.bootstrap`
chooses the places and the runtime exposes them, so commands and the admin know no transport.
"""

from collections.abc import Set
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol

from modulith.modules import Module


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter as a listing shows it; each place adds what it knows of it, and the
    line that shows it (its `str`)."""

    kind: ClassVar[str]  # where it is kept, in the JSON listing: "delivery", "queue"
    module: str
    event_id: str
    event_name: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"kind": self.kind}


@dataclass(frozen=True)
class Replayed:
    """What a replay did to one module's dead letters in one place."""

    count: int  # dead letters sent on their way again
    summary: str  # one line saying what became of them
    # False when some failed again at once; `last_error` says why.
    complete: bool = True
    last_error: str = ""


class DeadLetters(Protocol):
    """A place where dead letters are kept."""

    def letters(self, module: Module) -> list[DeadLetterEntry]:
        """The module's dead letters here, oldest first (each line is its `str`)."""
        ...

    def replay(self, module: Module, ids: Set[str] | None = None) -> Replayed:
        """Sends the module's dead letters (all, or those named by `ids`, in whatever ids this
        place knows them by) on their way again. Safe even for a letter that was in fact
        handled: the subscriber's inbox absorbs it."""
        ...
