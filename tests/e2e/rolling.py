"""The rolling flip on this machine: the monolith and a module's service as two sides, each
replaced task by task the way ECS or Kubernetes roll a service (the new task starts, then the
old one stops: both run side by side meanwhile), driven by the steps `manage.py extract`
prints, while customers keep placing orders through nginx.

A side's tasks share one address: each gunicorn also listens on the side's port with
SO_REUSEPORT, so the kernel spreads connections over the old and the new task, as a target
group or a Kubernetes Service does; the front door routes each module's API to a side's
address, and changes only when a step moves the module's API. Every process runs on the
test's databases and stops by PID."""

import random
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from modulith.modules import Topology
from modulith.testing import wait_until
from modulith.tooling.rolling.steps import (
    CONSUME,
    DRAIN,
    MONOLITH,
    Deployment,
    RollingPlan,
    RollingStep,
)
from tests.aws.consumers import ConsumerProcess
from tests.e2e.conftest import SECRET, FrontDoor
from tests.e2e.shop_api import client
from tests.processes import free_port, manage
from tests.service import Service

START_TIMEOUT = 90.0  # a task starts while the others serve, on two loaded cores
READY_TIMEOUT = 60.0  # a step's readiness check passes within this
DECLINED = "tok_chargeDeclined"
RETRIED_STATUSES = {502, 503, 504}  # no answer from the shop: the same request again
IMPATIENT_SECONDS = 0.005
# The emulator's queue counts are exact, unlike SQS's: a drain need not watch them for long.
ONE_OFF_OPTIONS = {DRAIN: ("--empty-for", "2")}


@dataclass
class Task:
    """One task of a side: its web process and, on a queue transport, its consumer."""

    web: Service
    consumer: ConsumerProcess | None
    modules: list[str]

    def start(self) -> "Task":
        processes: list[Any] = [self.web, *([self.consumer] if self.consumer else [])]
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            for started in [pool.submit(p.start, timeout=START_TIMEOUT) for p in processes]:
                started.result()
        return self

    def stop(self) -> None:
        """SIGTERM to both, as a rolling deployment stops a task."""
        for process in (self.consumer, self.web):
            if process is not None:
                process.stop(timeout=30)

    def kill(self) -> None:
        for process in (self.consumer, self.web):
            if process is not None:
                process.kill()


@dataclass
class Side:
    name: str
    port: int
    tasks: list[Task] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


# Chooses, once a step's new task serves, how each old task of the rolled side goes: None for
# SIGTERM, else a description of what it held in flight when it was SIGKILLed.
Stopper = Callable[[RollingPlan, RollingStep, Task], str | None]


class RollingShop:
    """The monolith and the module's service as sides, the front door before them."""

    def __init__(self, topology: Topology, module: str, log_dir: Path, aws: dict[str, str]) -> None:
        self.topology = topology
        self.module = module
        self.log_dir = log_dir
        self.aws = aws
        self.sides = {MONOLITH: Side(MONOLITH, free_port()), module: Side(module, free_port())}
        self.front_door: FrontDoor | None = None
        self.one_offs: list[str] = []

    @property
    def monolith(self) -> Side:
        return self.sides[MONOLITH]

    @property
    def service(self) -> Side:
        return self.sides[self.module]

    @property
    def url(self) -> str:
        assert self.front_door is not None
        return self.front_door.url

    def start(self, monolith: Deployment) -> None:
        """The monolith as it runs before the flip, and the front door."""
        self.monolith.tasks.append(self._task(self.monolith, monolith).start())
        self.front_door = FrontDoor(self.log_dir / "nginx", self._upstreams(api_on_service=False))
        self.front_door.start()

    def apply(self, plan: RollingPlan, step: RollingStep, stopper: Stopper) -> list[str]:
        """One step: the rolled side's new task starts, the front door takes the module's API
        where the step says, then the old tasks go (SIGTERM, or SIGKILL as `stopper` says);
        then the step's one-off commands. Returns what each SIGKILL caught in flight."""
        side = self.sides[step.rolls]
        deployment = step.monolith if step.rolls == MONOLITH else step.service
        old = list(side.tasks)
        if deployment.running:
            side.tasks.append(self._task(side, deployment).start())
        assert self.front_door is not None
        if self.front_door.upstreams != self._upstreams(step.api_on_service):
            self.front_door.route(self._upstreams(step.api_on_service))
        caught = []
        for task in old:
            side.tasks.remove(task)
            if (in_flight := stopper(plan, step, task)) is not None:
                task.kill()
                caught.append(f"{plan.direction}, step {step.number}: {in_flight}")
            else:
                task.stop()
        for command in step.then:
            self.one_off(command, step.monolith, *ONE_OFF_OPTIONS.get(command, ()))
        return caught

    def ready(self, plan: RollingPlan, step: int | str, monolith: Deployment) -> str:
        """Runs the step's readiness check, as a release script does, until it exits 0; how
        long it took, and what it last waited for."""
        started = time.monotonic()
        command = plan.ready_command(step).split()[1:]  # without "manage.py"
        checks: list[subprocess.CompletedProcess[str]] = []

        def check() -> int:
            checks.append(manage(*command, timeout=60, **self._env(monolith)))
            return checks[-1].returncode

        wait_until(
            check,
            lambda code: code == 0,
            awaiting=f"`{' '.join(command)}` to say the step may start",
            timeout=READY_TIMEOUT,
            interval=0.5,
            details=lambda: checks[-1].stderr.strip(),
        )
        waited = ""
        if len(checks) > 1:
            waited = f" (waited for: {checks[-2].stderr.strip().split(': ', 3)[-1]})"
        return f"{time.monotonic() - started:.1f} s{waited}"

    def one_off(self, command: str, deployment: Deployment, *options: str) -> None:
        """A one-off task with the side's environment (`manage.py ...`), as ECS RunTask or a
        Kubernetes Job runs it."""
        arguments = [*command.split()[1:], *options]
        done = manage(*arguments, timeout=120, **self._env(deployment))
        self.one_offs.append(f"{command}: exit {done.returncode}: {done.stdout.strip()}")
        assert done.returncode == 0, f"{command} failed: {done.stderr}"

    def stop(self) -> None:
        if self.front_door:
            self.front_door.stop()
        tasks = [task for side in self.sides.values() for task in side.tasks]
        if tasks:
            with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
                for stopped in [pool.submit(task.stop) for task in tasks]:
                    stopped.result()

    def _task(self, side: Side, deployment: Deployment) -> Task:
        env = self._env(deployment)
        web = Service(self.log_dir, side.name, shared_port=side.port, env=env)
        consumer = ConsumerProcess(self.log_dir, env=env) if CONSUME in deployment.roles else None
        return Task(web, consumer, env["MODULITH_MODULES"].split(","))

    def _env(self, deployment: Deployment) -> dict[str, str]:
        """The deployment's environment with this machine's values: the test's databases
        (which every process gets) and the secret."""
        env = {**self.aws}
        for name, value in deployment.env.items():
            if not name.endswith("_DATABASE_URL"):
                env[name] = SECRET if name == "MODULITH_INTERNAL_SECRET" else value
        return env

    def _upstreams(self, api_on_service: bool) -> dict[str, str]:
        return {
            m.name: (
                self.service if api_on_service and m.name == self.module else self.monolith
            ).address
            for m in self.topology.modules
        }


# Customers ---------------------------------------------------------------------------------
@dataclass
class Placed:
    """An order as the customer asked for it, and what the shop answered."""

    key: str
    lines: list[tuple[str, int]]
    token: str | None
    order_id: str | None = None  # None: never acknowledged
    attempts: int = 0
    replayed: int = 0


@dataclass
class Customers:
    """Threads placing orders one after another until stopped, each with an Idempotency-Key
    that a retry repeats: when a request gets no answer (a connection reset, a 502 while a
    task stops, a client that stops waiting), the customer sends the same request again. An
    `impatient` share of first attempts gives up after a few milliseconds, as a mobile client
    on a bad network does: the shop may well have stored the order it never answered."""

    url: str
    skus: dict[str, int]
    scarce: str
    threads: int = 2
    pause: tuple[float, float] = (0.3, 0.6)
    impatient: float = 0.1
    placed: list[Placed] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None
    _running: list[Any] = field(default_factory=list)

    def start(self) -> "Customers":
        self._pool = ThreadPoolExecutor(max_workers=self.threads)
        self._running = [self._pool.submit(self._place, seed) for seed in range(self.threads)]
        return self

    def finish(self) -> None:
        self.stop.set()
        for running in self._running:
            running.result(timeout=120)
        if self._pool:
            self._pool.shutdown()

    @property
    def acknowledged(self) -> list[Placed]:
        return [p for p in self.placed if p.order_id is not None]

    def _place(self, seed: int) -> None:
        rng = random.Random(seed)
        plentiful = [sku for sku in self.skus if sku != self.scarce]
        with client(self.url) as api:
            while not self.stop.is_set():
                lines = [(rng.choice(plentiful), rng.randint(1, 3))]
                if rng.random() < 0.25:
                    lines.append((self.scarce, 1))
                order = Placed(
                    key=f"roll-{uuid.uuid4().hex}",
                    lines=lines,
                    token=DECLINED if rng.random() < 0.2 else None,
                )
                with self.lock:
                    self.placed.append(order)
                _place_until_answered(api, order, impatient=rng.random() < self.impatient)
                self.stop.wait(rng.uniform(*self.pause))


def _place_until_answered(
    api: httpx.Client, order: Placed, *, impatient: bool, attempts: int = 20
) -> None:
    body: dict[str, Any] = {
        "customerId": "rolling",
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in order.lines],
    }
    if order.token:
        body["paymentToken"] = order.token
    for attempt in range(attempts):
        order.attempts += 1
        wait = IMPATIENT_SECONDS if impatient and not attempt else api.timeout
        try:
            answer = api.post(
                "/api/orders", json=body, headers={"Idempotency-Key": order.key}, timeout=wait
            )
        except httpx.TransportError:
            time.sleep(0.2)  # the customer's pause before trying again, not a wait for a fact
            continue
        if answer.status_code in RETRIED_STATUSES:
            time.sleep(0.2)  # the customer's pause before trying again
            continue
        assert answer.status_code in (200, 201), answer.text
        order_id = str(answer.json()["orderId"])
        assert order.order_id in (None, order_id), f"{order.key} answered two orders"
        order.order_id = order_id
        order.replayed += answer.headers.get("Idempotent-Replayed") == "true"
        return
