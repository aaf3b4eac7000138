"""What this process runs, as the composition root describes it when it installs the
framework: log lines name these modules, spans this service, and the outbox gauges cover
these modules' databases (read through the function it is given). Observability is given
these; it never reaches into the runtime."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from modulith.modules import Module, Topology


class OutboxState(Protocol):
    @property
    def pending(self) -> int: ...
    @property
    def oldest_pending(self) -> datetime | None: ...
    @property
    def dead(self) -> int: ...
    @property
    def scheduled(self) -> int: ...
    @property
    def oldest_due_scheduled(self) -> datetime | None: ...


def _no_outbox(module: Module) -> OutboxState:
    raise LookupError(f"no outbox is described for {module.name}: the framework is not set up")


@dataclass(frozen=True)
class Process:
    running: tuple[Module, ...] = ()
    every_module: bool = True  # the monolith: every module of the project runs here
    # What a module's outbox holds now, for the gauges.
    outbox_state: Callable[[Module], OutboxState] = _no_outbox

    @property
    def module_names(self) -> str:
        """The running modules, comma-separated (empty before the framework is set up)."""
        return ",".join(module.name for module in self.running)

    @property
    def service_name(self) -> str:
        """`modulith` for the monolith, else `modulith-<the modules running here>`."""
        if self.every_module:
            return "modulith"
        return "modulith-" + "-".join(module.name for module in self.running)


_current = Process()


def describe(topology: Topology, outbox_state: Callable[[Module], OutboxState]) -> None:
    global _current
    _current = Process(
        running=topology.running_modules,
        every_module=len(topology.running_modules) == len(topology.modules),
        outbox_state=outbox_state,
    )


def current() -> Process:
    return _current
