"""The rolling flip: the sequence of rolling deployments that moves a module out of the
monolith into its own service, or back, while both keep serving.

Each step changes one side (the monolith, or the module's service) by a rolling deployment, so
old and new tasks of that side run together for minutes; every state between two steps is one
the shop can run in for good, and the step before it is its rollback:

- extract: (1) the monolith moves to the queue transport, still running every module: events
  now go through queues that any process running their subscriber consumes; (2) the module's
  service starts, consuming its queue and serving its API beside the monolith, on the same
  database; (3) the monolith stops running the module.
- merge back: the same three states in reverse, ending with `consume --drain` once the
  monolith is back on the in-process transport, so that no message is left in a queue that
  nothing consumes any more.

Computed from the manifests alone; `modulith.tooling.rolling.settled` checks, before each step, that
what the previous one left in flight has settled.
"""

from dataclasses import dataclass, field

from modulith.modules import Module, Topology
from modulith.tooling.extraction import database_variable, service_environment

MONOLITH = "monolith"
WEB = "web"
CONSUME = "consume"
DRAIN = "manage.py consume --drain"
DONE = "done"


@dataclass(frozen=True)
class Deployment:
    """What one side runs between two steps: its roles (none: it is not running) and their
    environment (the same for every role)."""

    roles: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return bool(self.roles)


@dataclass(frozen=True)
class RollingStep:
    number: int
    title: str
    monolith: Deployment
    service: Deployment
    # Which side this step deploys (the other keeps what it runs): MONOLITH or the module.
    rolls: str
    # Whether the front door sends the module's API to its service once the step is done.
    api_on_service: bool
    # One-off commands to run with the monolith's new environment once its roll has finished.
    then: tuple[str, ...]
    # What the shop runs like while stopped at this step, and how to undo it.
    state: str
    rollback: str


@dataclass(frozen=True)
class RollingPlan:
    module: str
    transport: str
    back: bool
    steps: list[RollingStep]

    @property
    def direction(self) -> str:
        return f"merging {self.module} back" if self.back else f"extracting {self.module}"

    def ready_command(self, step: int | str) -> str:
        back = " --back" if self.back else ""
        return f"manage.py extract {self.module}{back} --transport {self.transport} --ready {step}"


def rolling_plan(
    topology: Topology,
    module: str,
    *,
    transport: str,
    service_url: str,
    monolith_url: str,
    back: bool = False,
) -> RollingPlan:
    """The steps of extracting `module` (or, `back`, of merging it back), each one rolling
    deployment of one side."""
    flip = _Flip(topology, topology.module(module), transport, service_url, monolith_url)
    return RollingPlan(module=module, transport=transport, back=back, steps=flip.steps(back))


@dataclass(frozen=True)
class _State:
    """What both sides run between two steps, and where the module's API is served."""

    monolith: Deployment
    service: Deployment
    api_on_service: bool
    description: str


class _Flip:
    """The four states a flip passes through (in process; on the queues; the module's service
    beside the monolith; the split), and the steps between them: each the rolling deployment
    of the one side that differs, undone by the step from its end back to its start."""

    def __init__(
        self,
        topology: Topology,
        module: Module,
        transport: str,
        service_url: str,
        monolith_url: str,
    ) -> None:
        self.topology = topology
        self.module = module
        self.transport = transport
        self.service_url = service_url
        name = module.name
        rest = [m for m in topology.modules if m != module]
        urls = {m.name: monolith_url for m in rest}
        env = service_environment(topology, [module], transport=transport, urls=urls)
        env[database_variable(name)] = f"<the monolith's {database_variable(name)}: the same>"
        service = Deployment(_roles([module], transport), env)
        stopped = Deployment(())
        on_queues = self._monolith(topology.modules, transport)
        self.states = [
            _State(
                self._monolith(topology.modules, "inprocess"),
                stopped,
                api_on_service=False,
                description="the monolith on the in-process transport, as before the flip",
            ),
            _State(
                on_queues,
                stopped,
                api_on_service=False,
                description=(
                    f"every module runs in the monolith; events go through the {transport} "
                    "queues, which its consumers read"
                ),
            ),
            _State(
                on_queues,
                service,
                api_on_service=True,
                description=(
                    f"the monolith and the {name} service both run {name}: both consume its "
                    "queue and serve its API, on one database"
                ),
            ),
            _State(
                self._monolith(rest, transport),
                service,
                api_on_service=True,
                description=f"{name} runs in its own service only: the split",
            ),
        ]

    def steps(self, back: bool) -> list[RollingStep]:
        name, transport = self.module.name, self.transport
        titles = (
            [
                f"the monolith runs {name} again, beside its service",
                f"the {name} service stops",
                "the monolith moves back to the in-process transport",
            ]
            if back
            else [
                f"the monolith moves to {transport}, still running every module",
                f"the {name} service starts beside the monolith, on the same database",
                f"the monolith stops running {name}",
            ]
        )
        states = list(reversed(self.states)) if back else self.states
        return [
            self._step(number, title, states[number - 1], states[number])
            for number, title in enumerate(titles, start=1)
        ]

    def _step(self, number: int, title: str, start: _State, end: _State) -> RollingStep:
        rolls = MONOLITH if start.monolith != end.monolith else self.module.name
        leaves_queues = _on_queues(start.monolith) and not _on_queues(end.monolith)
        return RollingStep(
            number,
            title,
            end.monolith,
            end.service,
            rolls=rolls,
            api_on_service=end.api_on_service,
            then=(DRAIN,) if leaves_queues else (),
            state=end.description
            + (", once what its old tasks left in the queues is drained" if leaves_queues else ""),
            rollback=self._undo(rolls, start, end),
        )

    def _undo(self, rolls: str, start: _State, end: _State) -> str:
        """How to go back from `end` to `start`: the step the other way."""
        name = self.module.name
        if rolls == MONOLITH:
            undo = (
                f"roll the monolith back to its environment before this step ({start.description})"
            )
            if _on_queues(end.monolith) and not _on_queues(start.monolith):
                undo += (
                    f"; once none of its {self.transport} tasks runs any more, run `{DRAIN}` "
                    f"once, then `manage.py extract {name} --back --transport {self.transport} "
                    f"--ready {DONE}`"
                )
            return undo
        if start.service.running:
            return (
                f"start the {name} service again with its environment, then send /api/{name} to it"
            )
        return (
            f"send /api/{name} back to the monolith, then stop the {name} service (SIGTERM): "
            "the monolith still consumes its queue and sweeps its outbox"
        )

    def _monolith(self, modules: list[Module] | tuple[Module, ...], transport: str) -> Deployment:
        urls = {self.module.name: self.service_url}
        env = service_environment(self.topology, modules, transport=transport, urls=urls)
        return Deployment(_roles(modules, transport), env)


def _roles(modules: list[Module] | tuple[Module, ...], transport: str) -> tuple[str, ...]:
    consumes = transport != "inprocess" and any(m.handles for m in modules)
    return (WEB, CONSUME) if consumes else (WEB,)


def _on_queues(deployment: Deployment) -> bool:
    return CONSUME in deployment.roles
