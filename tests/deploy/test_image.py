"""The Dockerfile, built unchanged with podman, and its image run as ECS and Kubernetes run it:
as the image's user, on a read-only root file system with /tmp and the home writable, every
capability dropped, on the host's network (127.0.0.1 only).

The monolith serves and completes an order; every other role starts; and every role stops
within 10 s of SIGTERM without losing the request or message in hand. Part of `make test` (as
root: podman and debootstrap build as root here); `pytest -m container` runs them alone. The
first run builds the stand-in for the base image (tests/deploy/podman.py), later ones reuse the
store (var/containers/).
"""

import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from modulith.testing import wait_until
from modulith.transports.envelope import Envelope
from tests.aws.emulator import Emulator, aws_environment
from tests.celery.conftest import RedisServer
from tests.deploy.lambda_runtime import RuntimeApi
from tests.deploy.podman import Podman, store_directory
from tests.e2e import shop_api
from tests.events import order_placed
from tests.lambda_events import http_api
from tests.processes import free_port, project_env
from tests.system import program

# The first test of a fresh store pays for the build (debootstrap, the stand-in, the image):
# up to five minutes on two busy cores. One xdist worker runs them all, on one build.
pytestmark = [
    pytest.mark.container,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.xdist_group("image"),
]
if os.geteuid() != 0:
    pytest.skip(
        "builds and runs the image with podman and debootstrap, which need root here: make "
        "test as root runs these",
        allow_module_level=True,
    )

TAG = "localhost/modulith:test"
STOP_SECONDS = 10
START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def podman() -> Podman:
    engine = Podman(store_directory())
    started = time.monotonic()
    engine.build(TAG)
    print(f"the image built in {time.monotonic() - started:.0f} s")
    return engine


@dataclass
class Container:
    podman: Podman
    name: str
    volume: str
    stopped: tuple[int, float] | None = None  # exit code, seconds from SIGTERM to exit

    def logs(self) -> str:
        result = self.podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def running(self) -> bool:
        state = self.podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def exit_code(self) -> int:
        return int(self.podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)

    def wait_for_log(self, text: str, timeout: float = START_TIMEOUT) -> None:
        def logged() -> bool:
            if text in self.logs():
                return True
            assert self.running(), f"{self.name} exited:\n{self.logs()[-4000:]}"
            return False

        wait_until(
            logged,
            awaiting=f"{self.name} to log {text!r}",
            timeout=timeout,
            interval=0.25,
            details=lambda: self.logs()[-4000:],
        )

    def stop(self) -> tuple[int, float]:
        """SIGTERM, then SIGKILL after 10 s as ECS and Kubernetes would (exit 137)."""
        started = time.monotonic()
        self.podman("stop", "--time", str(STOP_SECONDS), self.name, timeout=60)
        self.stopped = (self.exit_code(), time.monotonic() - started)
        return self.stopped

    def user(self) -> str:
        return self.podman("exec", self.name, "id", "-u").stdout.strip()


@dataclass
class Runner:
    """Starts containers of the image, and removes every one of them (and its volumes)."""

    podman: Podman
    containers: list[Container] = field(default_factory=list)
    volumes: set[str] = field(default_factory=set)

    def start(self, *command: str, env: dict[str, str], volume: str | None = None) -> Container:
        name = f"modulith-test-{uuid.uuid4().hex[:8]}"
        volume = volume or f"{name}-var"
        self.volumes.add(volume)
        arguments = [
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--mount",
            "type=tmpfs,destination=/home/app,chown=true",
            "--volume",
            f"{volume}:/app/var:U",
            "--cap-drop",
            "ALL",
            *[f"--env={key}={value}" for key, value in env.items()],
            TAG,
            *command,
        ]
        self.podman(*arguments)
        container = Container(self.podman, name, volume)
        self.containers.append(container)
        return container

    def run(self, *command: str, env: dict[str, str], volume: str) -> str:
        """A one-off container (migrate, manage): its output; fails unless it exits 0."""
        container = self.start(*command, env=env, volume=volume)
        wait_until(
            container.running,
            lambda running: not running,
            awaiting=f"the one-off container {container.name} to exit",
            timeout=START_TIMEOUT,
            interval=0.25,
            details=container.logs,
        )
        assert container.exit_code() == 0, container.logs()
        return container.logs()

    def database(self, volume: str, name: str) -> Path:
        mountpoint = self.podman("volume", "inspect", "--format", "{{.Mountpoint}}", volume)
        return Path(mountpoint.stdout.strip()) / f"{name}.sqlite3"

    def remove(self) -> None:
        for container in self.containers:
            self.podman("rm", "--force", "--time", "0", container.name, check=False)
        for volume in self.volumes:
            self.podman("volume", "rm", "--force", volume, check=False)


@pytest.fixture
def runner(podman: Podman) -> Iterator[Runner]:
    runner = Runner(podman)
    try:
        yield runner
    finally:
        runner.remove()


def monolith(port: int) -> dict[str, str]:
    """The image's embedded defaults, DEBUG on as the tests ask for it (the image never sets
    it), on a loopback port of the host's network."""
    return {
        "DJANGO_DEBUG": "1",
        "BIND": f"127.0.0.1:{port}",
        "MODULITH_LOAD_DEMO_CATALOGUE": "1",
        "WEB_CONCURRENCY": "2",
    }


def wait_until_ready(base_url: str, container: Container) -> None:
    def status() -> int:
        assert container.running(), container.logs()[-4000:]
        return httpx.get(f"{base_url}/health/ready", timeout=2).status_code

    wait_until(
        status,
        lambda code: code == 200,
        awaiting=f"{container.name} to answer /health/ready with 200",
        timeout=START_TIMEOUT,
        interval=0.25,
        ignoring=httpx.HTTPError,
        details=lambda: container.logs()[-4000:],
    )


def test_the_monolith_serves_as_the_images_user_and_completes_an_order(runner: Runner) -> None:
    port = free_port()
    web = runner.start("web", env=monolith(port))
    base_url = f"http://127.0.0.1:{port}"
    wait_until_ready(base_url, web)

    assert web.user() == "10001"
    users = runner.podman("top", web.name, "user").stdout.split()[1:]
    assert set(users) == {"app"}, users  # gunicorn's master and workers
    assert runner.podman("healthcheck", "run", web.name, check=False).returncode == 0
    with shop_api.client(base_url) as api:
        order_id = shop_api.placed(api, ("KB-001", 1))
        assert shop_api.final(api, order_id)["status"] == "CONFIRMED"
    code, seconds = web.stop()
    assert code == 0, web.logs()[-3000:]
    assert seconds < STOP_SECONDS


def test_the_web_stops_within_10_s_of_sigterm_and_answers_every_request_in_hand(
    runner: Runner,
) -> None:
    """Orders placed from four clients while the container is told to stop: gunicorn stops
    taking connections and finishes the requests its workers hold. A request the app took (it
    committed its order) is answered; one it never took may be refused or reset (behind a
    load balancer, the target is deregistered before SIGTERM and none arrives)."""
    port = free_port()
    web = runner.start("web", env=monolith(port))
    base_url = f"http://127.0.0.1:{port}"
    wait_until_ready(base_url, web)
    answered: list[str] = []
    done = threading.Event()

    def place_orders() -> None:
        with shop_api.client(base_url) as api:
            for _ in range(2000):  # bounded; ends when the server is gone
                if done.is_set():
                    return
                try:
                    response = shop_api.place(api, ("KB-001", 1))
                except httpx.TransportError:
                    return
                assert response.status_code == 201, response.text
                answered.append(str(response.json()["orderId"]))

    clients = [threading.Thread(target=place_orders) for _ in range(4)]
    for client in clients:
        client.start()
    wait_until(
        lambda: len(answered),
        lambda orders: orders >= 20,
        awaiting="20 orders answered before the stop",
        timeout=30,
        interval=0.05,
    )
    code, seconds = web.stop()
    done.set()
    for client in clients:
        client.join(timeout=30)

    assert code == 0, web.logs()[-3000:]
    assert seconds < STOP_SECONDS
    with sqlite3.connect(runner.database(web.volume, "orders")) as orders:
        stored = {row[0] for row in orders.execute("select id from orders_order")}
    assert len(answered) >= 20
    assert {uuid.UUID(order).hex for order in answered} == {
        uuid.UUID(str(order)).hex for order in stored
    }


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(log_dir=tmp_path / "moto")
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def inventory_on_queues(emulator: Emulator, prefix: str) -> dict[str, str]:
    return {
        **aws_environment(emulator.endpoint),
        "DJANGO_DEBUG": "1",
        "MODULITH_MODULES": "inventory",
        "MODULITH_TRANSPORT": "sqs",
        "MODULITH_QUEUE_PREFIX": prefix,
        "MODULITH_EVENT_BUS": prefix,
    }


def order_placed_body() -> str:
    event = order_placed(("KB-001", 1))
    return Envelope(
        event_id=uuid.uuid4(),
        event_name="OrderPlaced",
        source="orders.service",
        occurred_at=datetime.now(UTC),
        schema_version="1.0",
        data=event.model_dump(mode="json", by_alias=True),
        trace={},
    ).to_json()


def handled(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute("select count(*) from modulith_inboxrecord").fetchone()[0])


def test_the_consumer_finishes_the_message_in_hand_and_loses_none_on_sigterm(
    runner: Runner, emulator: Emulator
) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}"
    env = inventory_on_queues(emulator, prefix)
    provisioned = subprocess.run(
        [sys.executable, "manage.py", "provision"],
        cwd=Path(__file__).resolve().parents[2],
        env=project_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert provisioned.returncode == 0, provisioned.stderr
    volume = f"modulith-test-{prefix}-var"
    runner.run("migrate", env=env, volume=volume)
    runner.run("manage", "load_catalogue", env=env, volume=volume)
    sqs = boto3.client("sqs", endpoint_url=emulator.endpoint, **_credentials())
    queue = sqs.get_queue_url(QueueName=f"{prefix}-inventory")["QueueUrl"]
    total = 40
    for _batch in range(total // 10):
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "MessageBody": order_placed_body()} for i in range(10)],
        )

    consumer = runner.start("consume", env=env, volume=volume)
    consumer.wait_for_log(f"consuming {prefix}-inventory")
    database = runner.database(volume, "inventory")
    wait_until(
        lambda: handled(database),
        lambda count: count >= 3,
        awaiting="the consumer to handle three messages before the stop",
        timeout=START_TIMEOUT,
        interval=0.1,
        details=consumer.logs,
    )
    code, seconds = consumer.stop()

    assert code == 0, consumer.logs()[-3000:]
    assert seconds < STOP_SECONDS
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    waiting = sum(int(value) for value in attributes.values())
    dead_queue = sqs.get_queue_url(QueueName=f"{prefix}-inventory-dlq")["QueueUrl"]
    dead = sqs.get_queue_attributes(
        QueueUrl=dead_queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert handled(database) >= 3
    assert (handled(database) + waiting, int(dead)) == (total, 0), consumer.logs()[-3000:]


def _credentials() -> dict[str, Any]:
    env = aws_environment("")
    return {
        "region_name": env["AWS_DEFAULT_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = RedisServer(program("redis-server", "redis-server"), tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("role", "started"),
    [("worker", "ready."), ("beat", "beat: Starting..."), ("relay", "relaying ")],
)
def test_every_other_role_starts_and_stops_within_10_s_of_sigterm(
    runner: Runner, redis_url: str, role: str, started: str
) -> None:
    env = {"DJANGO_DEBUG": "1", "CELERY_BROKER_URL": redis_url}
    volume = f"modulith-test-{uuid.uuid4().hex[:8]}-var"
    runner.run("migrate", env=env, volume=volume)

    container = runner.start(role, env=env, volume=volume)
    container.wait_for_log(started)
    code, seconds = container.stop()

    assert code == 0, container.logs()[-3000:]
    assert seconds < STOP_SECONDS


def test_the_lambda_role_answers_its_runtime_api_and_stops_on_sigterm(runner: Runner) -> None:
    volume = f"modulith-test-{uuid.uuid4().hex[:8]}-var"
    env = {"DJANGO_DEBUG": "1", "MODULITH_LOAD_DEMO_CATALOGUE": "1"}
    runner.run("migrate", env=env, volume=volume)
    runner.run("manage", "load_catalogue", env=env, volume=volume)
    with RuntimeApi() as api:
        function = runner.start(
            "lambda",
            "web",
            env={
                **env,
                "AWS_LAMBDA_RUNTIME_API": api.address,
                "AWS_LAMBDA_FUNCTION_NAME": "modulith-inventory-web",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/modulith-inventory-web",
                "AWS_LAMBDA_LOG_STREAM_NAME": "test",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
            volume=volume,
        )
        answer = api.invoke(
            http_api(
                "GET",
                "/api/inventory/products/KB-001",
                headers={"X-API-Key": shop_api.API_KEY},
            ),
            timeout=START_TIMEOUT,
        )
        code, seconds = function.stop()

    assert answer.kind == "response", (answer, function.logs()[-3000:])
    assert answer.body["statusCode"] == 200
    # The runtime interface client is not PID 1: the entrypoint passes SIGTERM on to it.
    assert seconds < STOP_SECONDS
    assert code in {0, 143}, function.logs()[-3000:]


def test_make_image_builds_the_dockerfile_as_this_test_does() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "image", "CONTAINER_ENGINE=podman"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "podman",
        "build",
        "--format",
        "docker",
        "-t",
        "modulith:latest",
        ".",
    ]
