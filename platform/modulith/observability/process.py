"""What this process runs, as the composition root describes it when it installs the
framework: log lines name these modules, spans this service, and the outbox gauges cover
these modules' databases. Observability is given these values; it never reaches into the
runtime."""

from dataclasses import dataclass

from modulith.modules import Module, Topology


@dataclass(frozen=True)
class Process:
    running: tuple[Module, ...] = ()
    every_module: bool = True  # the monolith: every module of the project runs here

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


def describe(topology: Topology) -> None:
    global _current
    _current = Process(
        running=topology.running_modules,
        every_module=len(topology.running_modules) == len(topology.modules),
    )


def current() -> Process:
    return _current
