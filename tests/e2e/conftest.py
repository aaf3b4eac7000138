"""The shop as real processes behind nginx, on the test's databases: either the monolith (one
gunicorn, the in-process bus) or the split (per module a gunicorn and a consumer, with the
environment `service_environment` computes, the AWS emulator carrying the events).

nginx is the front door in both, configured by the same generator as `make split`."""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from modulith.conf import modulith_settings
from modulith.modules import Module, Topology
from modulith.testing import wait_until
from modulith.tooling.deployment import front_door_routes, standalone_nginx_conf
from modulith.tooling.extraction import service_environment
from tests.aws.consumers import ConsumerProcess
from tests.aws.emulator import Emulator, aws_environment
from tests.e2e.shop_api import client
from tests.processes import ROOT, answering, free_port, project_env
from tests.service import Service
from tests.system import program

TOPOLOGY: Topology = modulith_settings().topology
SECRET = f"e2e-{secrets.token_hex(16)}"
START_TIMEOUT = 90.0  # three services and three consumers start at once on two cores
# Retries within seconds, and gauges read at every scrape, not the production defaults.
QUICK = {
    "MODULITH_VISIBILITY_TIMEOUT": "3",
    "MODULITH_RETRY_BASE_SECONDS": "0.5",
    "MODULITH_METRICS_CACHE_SECONDS": "0",
}


class Startable(Protocol):
    def start(self, timeout: float = ...) -> object: ...


class Stoppable(Protocol):
    def stop(self) -> object: ...


class FrontDoor:
    """nginx in the foreground, in a directory of its own, routing /api/<module> to the
    module's service."""

    def __init__(self, directory: Path, upstreams: Mapping[str, str]) -> None:
        self.directory = directory
        self.upstreams = upstreams
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.directory / "nginx.conf"

    def start(self, timeout: float = 15) -> "FrontDoor":
        nginx = program("nginx", "nginx")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_config()
        with (self.directory / "nginx.out").open("wb") as out:
            self.process = subprocess.Popen(
                [nginx, "-p", f"{self.directory}/", "-c", str(self.config), "-e", "error.log"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not answering(self.process, self._listens, what="nginx", timeout=timeout):
            raise RuntimeError(f"nginx did not start:\n{self.log()}")
        return self

    def _listens(self) -> bool:
        try:
            httpx.get(self.url, timeout=1)  # any answer: it listens
        except httpx.TransportError:
            return False
        return True

    def route(self, upstreams: Mapping[str, str], timeout: float = 15) -> None:
        """New upstreams, as a load balancer's targets change: nginx reloads its configuration
        without dropping a connection; returns once every worker runs the new one."""
        assert self.process is not None, "nginx was not started"
        assert self.process.poll() is None, f"nginx has exited:\n{self.log()}"
        self.upstreams = upstreams
        self._write_config()
        old_workers = self._workers()
        os.kill(self.process.pid, signal.SIGHUP)
        wait_until(
            self._workers,
            lambda workers: bool(workers) and not workers & old_workers,
            awaiting=f"nginx to replace its workers {sorted(old_workers)} (a reload)",
            timeout=timeout,
            interval=0.05,
            details=self.log,
        )

    def _write_config(self) -> None:
        routes = front_door_routes(TOPOLOGY, self.upstreams, listen=f"127.0.0.1:{self.port}")
        self.config.write_text(
            standalone_nginx_conf(
                routes, pid="nginx.pid", error_log="error.log", access_log="access.log"
            )
        )

    def _workers(self) -> set[int]:
        """The PIDs of the master's worker processes (its children, from /proc)."""
        assert self.process is not None
        workers = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
                if int(parent) == self.process.pid and state != "Z":
                    workers.add(int(stat.parent.name))
        return workers

    def log(self) -> str:
        logs = [self.directory / name for name in ("nginx.out", "error.log")]
        return "\n".join(p.read_text(errors="replace") for p in logs if p.exists())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@dataclass
class Shop:
    """What a test talks to: the front door, and the processes behind it."""

    kind: str
    log_dir: Path
    front_door: FrontDoor | None = None
    services: dict[str, Service] = field(default_factory=dict)
    consumers: dict[str, ConsumerProcess] = field(default_factory=dict)
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    aws: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self.front_door
        return self.front_door.url

    def api(self) -> httpx.Client:
        return client(self.url)

    def restart_consumer(self, module: str) -> ConsumerProcess:
        self.consumers[module].stop()
        self.consumers[module] = ConsumerProcess(self.log_dir, module, env=self.envs[module])
        self.consumers[module].start(timeout=START_TIMEOUT)
        return self.consumers[module]

    def stop(self) -> None:
        """Every process it started, by PID, at once (each waits out its own shutdown)."""
        if self.front_door:
            self.front_door.stop()
        processes: list[Stoppable] = [*self.consumers.values(), *self.services.values()]
        if processes:
            with ThreadPoolExecutor(max_workers=len(processes)) as pool:
                for stopped in [pool.submit(p.stop) for p in processes]:
                    stopped.result()


def start_all(processes: list[Startable]) -> None:
    with ThreadPoolExecutor(max_workers=len(processes)) as pool:
        for started in [pool.submit(p.start, timeout=START_TIMEOUT) for p in processes]:
            started.result()


def start_monolith(shop: Shop) -> None:
    monolith = Service(shop.log_dir, "monolith", env={"MODULITH_TRANSPORT": "inprocess"})
    shop.services["monolith"] = monolith
    monolith.start(timeout=START_TIMEOUT)
    address = f"127.0.0.1:{monolith.port}"
    shop.front_door = FrontDoor(shop.log_dir / "nginx", {m.name: address for m in TOPOLOGY.modules})
    shop.front_door.start()


def split_environment(module: Module, ports: dict[str, int], transport: str) -> dict[str, str]:
    """The service's environment from `service_environment`, on the test's databases (which
    `Service` and `ConsumerProcess` pass on)."""
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = service_environment(TOPOLOGY, [module], transport=transport, urls=urls)
    env = {name: value for name, value in env.items() if not name.endswith("_DATABASE_URL")}
    if "MODULITH_INTERNAL_SECRET" in env:
        env["MODULITH_INTERNAL_SECRET"] = SECRET
    return env


def start_split(
    shop: Shop, emulator: Emulator, transport: str, overrides: Mapping[str, str] | None = None
) -> None:
    """`overrides` go to every process of the split, after everything else (see
    `split_overrides`)."""
    names = f"e{uuid.uuid4().hex[:8]}"
    shop.aws = {
        **aws_environment(emulator.endpoint),
        "MODULITH_QUEUE_PREFIX": names,
        "MODULITH_EVENT_BUS": names,
        "MODULITH_TRANSPORT": transport,
        **QUICK,
        **(overrides or {}),
    }
    provisioned = subprocess.run(
        [sys.executable, "manage.py", "provision"],
        cwd=ROOT,
        env=project_env(**shop.aws),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert provisioned.returncode == 0, provisioned.stderr
    ports = {m.name: free_port() for m in TOPOLOGY.modules}
    for module in TOPOLOGY.modules:
        env = {**shop.aws, **split_environment(module, ports, transport)}
        shop.envs[module.name] = env
        service = Service(shop.log_dir, module.name, port=ports[module.name], env=env)
        shop.services[module.name] = service
        if module.handles:
            shop.consumers[module.name] = ConsumerProcess(shop.log_dir, module.name, env=env)
    start_all([*shop.services.values(), *shop.consumers.values()])
    upstreams = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    shop.front_door = FrontDoor(shop.log_dir / "nginx", upstreams)
    shop.front_door.start()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(log_dir=tmp_path_factory.mktemp("moto")) as running:
        yield running


@pytest.fixture
def split_overrides() -> dict[str, str]:
    """Variables every process of the split gets on top of the defaults (QUICK among them).
    A test module overrides this fixture, e.g. with other timings, or with an AWS_ENDPOINT_URL
    that puts a FaultProxy between the services and the emulator."""
    return {}


@pytest.fixture
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    """`monolith`, or the split over `eventbridge`, `sqs` or `sns` (the parameter)."""
    program("nginx", "nginx")  # before anything starts
    kind = str(request.param)
    started = Shop(kind=kind, log_dir=tmp_path)
    try:
        if kind == "monolith":
            start_monolith(started)
        else:
            emulator = request.getfixturevalue("emulator")
            start_split(started, emulator, kind, request.getfixturevalue("split_overrides"))
        yield started
    finally:
        started.stop()
