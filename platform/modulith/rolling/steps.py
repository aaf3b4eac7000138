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

Computed from the manifests alone; `modulith.rolling.readiness` checks, before each step, that
what the previous one left in flight has settled.
"""

from dataclasses import dataclass, field

from modulith.extraction import database_variable, service_environment
from modulith.modules import Module, Topology

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
    states = _States(topology, topology.module(module), transport, service_url, monolith_url)
    steps = states.merge() if back else states.extract()
    return RollingPlan(module=module, transport=transport, back=back, steps=steps)


class _States:
    """The four states a flip passes through, and the steps between them."""

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
        self.rest = [m for m in topology.modules if m != module]
        self.service_url = service_url
        self.monolith_url = monolith_url
        name = module.name
        self.on_queues = self._monolith(topology.modules, transport)
        self.in_process = self._monolith(topology.modules, "inprocess")
        self.without = self._monolith(self.rest, transport)
        urls = {m.name: monolith_url for m in self.rest}
        env = service_environment(topology, [module], transport=transport, urls=urls)
        env[database_variable(name)] = f"<the monolith's {database_variable(name)}: the same>"
        self.service = Deployment(self._roles([module], transport), env)
        self.stopped = Deployment(())

    def extract(self) -> list[RollingStep]:
        name, transport = self.module.name, self.transport
        return [
            RollingStep(
                1,
                f"the monolith moves to {transport}, still running every module",
                self.on_queues,
                self.stopped,
                rolls=MONOLITH,
                api_on_service=False,
                then=(),
                state=(
                    f"every module runs in the monolith; events go through the {transport} "
                    "queues, which its consumers read"
                ),
                rollback=(
                    "roll the monolith back to its environment before this step; once none of "
                    f"its {transport} tasks runs any more, run `{DRAIN}` once with the "
                    "in-process environment, then "
                    f"`manage.py extract {name} --back --transport {transport} --ready done`"
                ),
            ),
            RollingStep(
                2,
                f"the {name} service starts beside the monolith, on the same database",
                self.on_queues,
                self.service,
                rolls=name,
                api_on_service=True,
                then=(),
                state=(
                    f"the monolith and the {name} service both run {name}: both consume its "
                    "queue and serve its API, on one database"
                ),
                rollback=(
                    f"send /api/{name} back to the monolith, then stop the {name} service "
                    "(SIGTERM): the monolith still consumes its queue and sweeps its outbox"
                ),
            ),
            RollingStep(
                3,
                f"the monolith stops running {name}",
                self.without,
                self.service,
                rolls=MONOLITH,
                api_on_service=True,
                then=(),
                state=f"{name} runs in its own service only: the split",
                rollback="roll the monolith back to step 2's environment (every module again)",
            ),
        ]

    def merge(self) -> list[RollingStep]:
        name, transport = self.module.name, self.transport
        return [
            RollingStep(
                1,
                f"the monolith runs {name} again, beside its service",
                self.on_queues,
                self.service,
                rolls=MONOLITH,
                api_on_service=True,
                then=(),
                state=(
                    f"the monolith and the {name} service both run {name}: both consume its "
                    "queue and serve its API, on one database"
                ),
                rollback=f"roll the monolith back to its previous environment (without {name})",
            ),
            RollingStep(
                2,
                f"the {name} service stops",
                self.on_queues,
                self.stopped,
                rolls=name,
                api_on_service=False,
                then=(),
                state=(
                    f"every module runs in the monolith; events go through the {transport} "
                    "queues, which its consumers read"
                ),
                rollback=(
                    f"start the {name} service again with its environment, then send "
                    f"/api/{name} to it"
                ),
            ),
            RollingStep(
                3,
                "the monolith moves back to the in-process transport",
                self.in_process,
                self.stopped,
                rolls=MONOLITH,
                api_on_service=False,
                then=(DRAIN,),
                state=(
                    "the monolith on the in-process transport, as before the flip; nothing "
                    "consumes the queues any more, so what its old tasks left there is "
                    "drained once they have all stopped"
                ),
                rollback=(
                    f"roll the monolith back to step 2's environment ({transport}, with its "
                    "consumers): they read whatever is in the queues"
                ),
            ),
        ]

    def _monolith(self, modules: list[Module] | tuple[Module, ...], transport: str) -> Deployment:
        urls = {self.module.name: self.service_url}
        env = service_environment(self.topology, modules, transport=transport, urls=urls)
        return Deployment(self._roles(modules, transport), env)

    @staticmethod
    def _roles(modules: list[Module] | tuple[Module, ...], transport: str) -> tuple[str, ...]:
        consumes = transport != "inprocess" and any(m.handles for m in modules)
        return (WEB, CONSUME) if consumes else (WEB,)
