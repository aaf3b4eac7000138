"""A real broker and real Celery processes, for the tests of asynchronous handlers.

- `redis_server` (session): Debian's `redis-server` on a free loopback port, without
  persistence; installed with apt-get when it is missing and the tests run as root.
- `redis_broker`: the Redis broker of one test, emptied before and after it. The test's own
  process publishes to it for real (not eagerly): its deliveries become `modulith.deliver`
  tasks (`publishing_to` does the same for any broker).
- `celery_processes`: starts `celery -A config worker|beat` processes (`CeleryProcess`) on
  the test's databases and stops them by PID at the end; `start_worker`, a worker on the
  test's Redis.
- `aws`, `aws_emulator`: the emulator's fixtures (tests/aws/conftest.py), for Celery on SQS.
"""

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kombu.pools
import pytest
import redis

from config.celery import app as celery_app
from tests.aws.conftest import aws, aws_emulator  # noqa: F401  (the SQS broker's emulator)
from tests.processes import BackgroundProcess, answering, free_port
from tests.system import program

HOST = "127.0.0.1"
CELERY = Path(sys.executable).with_name("celery")
# kombu's Redis keys of the tasks workers took and have not acknowledged: the tasks, and an
# index of them by the time each was taken (the visibility timeout counts from it).
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"


class RedisServer:
    """`redis-server` in the foreground, on 127.0.0.1, nothing written to disk."""

    def __init__(self, binary: str, log_dir: Path) -> None:
        self.binary = binary
        self.log = log_dir / "redis-server.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self) -> "redis.Redis":
        return redis.Redis(host=HOST, port=self.port, db=0, socket_timeout=5)

    def start(self, timeout: float = 10) -> "RedisServer":
        for _attempt in range(3):  # a free port may be taken before the server binds it
            self.port = free_port()
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [
                        self.binary,
                        "--port",
                        str(self.port),
                        "--bind",
                        HOST,
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--daemonize",
                        "no",
                        "--dir",
                        str(self.log.parent),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            what = f"redis-server on port {self.port}"
            if answering(self.process, self.answers, what=what, timeout=timeout, interval=0.05):
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start:\n{self.log.read_text(errors='replace')}")

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(program("redis-server", "redis-server"), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Broker:
    """The broker of one test: its URL, the Celery queue's name, and the variables a Celery
    process needs to use it."""

    url: str
    queue: str
    env: dict[str, str]


@dataclass
class RedisBroker(Broker):
    client: "redis.Redis"

    def waiting(self) -> int:
        """Tasks in the queue that no worker has taken."""
        return int(self.client.llen(self.queue))

    def unacknowledged(self) -> int:
        """Tasks a worker has taken and not acknowledged: Redis keeps them until it does."""
        return int(self.client.hlen(UNACKED))

    def lapse_visibility(self) -> int:
        """The tasks a worker took and never acknowledged are due to another worker now, as
        once their visibility timeout had passed: kombu's index of them (by the time each was
        taken) dates them to the epoch, and a worker that starts gives them back to the
        queue. Returns how many."""
        taken = cast(list[bytes], self.client.zrange(UNACKED_INDEX, 0, -1))  # members, no scores
        if taken:
            self.client.zadd(UNACKED_INDEX, dict.fromkeys(taken, 0))
        return len(taken)


@contextlib.contextmanager
def publishing_to(url: str, settings: Any, **conf: Any) -> Iterator[None]:
    """This process's deliveries go to Celery on `url`, for real (not eagerly), as
    `modulith.deliver` tasks.

    The Celery app reads Django's settings once, at first use, and keeps its broker
    connection pool and its queues: so the settings are changed for the record, the app's
    configuration directly, and its wiring to the broker is dropped, to be made again from
    the new configuration (and once more afterwards, from the old one)."""
    changes = {"broker_url": url, "task_always_eager": False, **conf}
    # Read before the settings change: the app may configure itself from them on first read.
    previous = {key: celery_app.conf[key] for key in changes}
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.update(changes)
    _forget_broker()
    settings.MODULITH_ASYNC_HANDLERS = "celery"  # rebuilds this process's runtime
    try:
        yield
    finally:
        celery_app.conf.update(previous)
        _forget_broker()


def _forget_broker() -> None:
    kombu.pools.reset()  # closes the connections kombu keeps per broker, for every app
    celery_app.__dict__.pop("_pool", None)  # made again at the next send
    celery_app.__dict__.pop("amqp", None)  # its producer pool, queues and routes


@pytest.fixture
def redis_broker(redis_server: RedisServer, settings: Any) -> Iterator[RedisBroker]:
    client = redis_server.client()
    client.flushdb()
    env = {"CELERY_BROKER_URL": redis_server.url, "MODULITH_ASYNC_HANDLERS": "celery"}
    with publishing_to(redis_server.url, settings):
        yield RedisBroker(
            url=redis_server.url,
            queue=str(celery_app.conf.task_default_queue),
            env=env,
            client=client,
        )
    client.flushdb()


class CeleryProcess(BackgroundProcess):
    """`celery -A config worker|beat` sharing the test's databases, in a process group of its
    own (with the prefork pool's children), its output in a log file."""

    def __init__(self, role: str, log_dir: Path, *args: str, **env: str) -> None:
        self.role = role
        self.name = f"{role}-{uuid.uuid4().hex[:8]}"
        arguments = list(args)
        if role == "worker":
            arguments += ["--hostname", f"{self.name}@localhost"]
        super().__init__(
            log_dir / f"{self.name}.log",
            [str(CELERY), "-A", "config", role, "--loglevel", "INFO", *arguments],
            env,
        )

    @property
    def nodename(self) -> str:
        return f"{self.name}@localhost"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> "CeleryProcess":
        ready = f"{self.nodename} ready." if self.role == "worker" else "beat: Starting..."
        self.launch(lambda: ready in self.output(), what=f"celery {self.role}", timeout=timeout)
        return self

    def terminate(self) -> None:
        """SIGTERM to the main process: a warm shutdown, it finishes the tasks in hand and
        stops its pool."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL to the group if the shutdown takes longer than `timeout`."""
        self.terminate()
        if self.process is None:
            return None
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return self.process.returncode


# The worker as the image's worker role runs it: Celery's default prefork pool, two children
# here. Each child opens database connections of its own after the fork (Celery's Django
# fix-up closes the parent's), and SQLite's WAL and busy timeout let them write in turn, as
# threads would; and with prefork, reject_on_worker_lost means something: the main process
# sees a child die and puts the child's task back in the queue.
WORKER_ARGS = (
    "--pool",
    "prefork",
    "--concurrency",
    "2",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
)


@pytest.fixture
def celery_processes(tmp_path: Path) -> Iterator[Callable[..., CeleryProcess]]:
    """Starts `celery -A config ROLE ARGS` with `env` on the test's databases, and stops
    everything it started when the test ends."""
    started: list[CeleryProcess] = []

    def start(role: str, *args: str, **env: str) -> CeleryProcess:
        process = CeleryProcess(role, tmp_path, *args, **env)
        started.append(process)
        return process.start()

    yield start
    for process in started:  # all at once: a shutdown takes a few seconds
        process.terminate()
    for process in started:
        process.stop()


@pytest.fixture
def start_worker(
    redis_broker: RedisBroker, celery_processes: Callable[..., CeleryProcess]
) -> Callable[..., CeleryProcess]:
    """Starts a worker on this test's Redis; `env` adds to its environment."""

    def start(**env: str) -> CeleryProcess:
        return celery_processes("worker", *WORKER_ARGS, **redis_broker.env, **env)

    return start
