"""The AWS emulator: moto in server mode, a real process answering HTTP on a loopback port.

Clients reach it the standard way, through `AWS_ENDPOINT_URL` (see `aws_environment`), never
through `endpoint_url=` arguments.

The emulator keeps its state (queues, messages, buses, rules, topics) in memory: `stop()`
loses it, so after `restart()` the same port answers with an empty account. `reset()` wipes
the state without restarting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import boto3
from botocore.config import Config

from tests.processes import answering, free_port

HOST = "127.0.0.1"
REGION = "us-east-1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


# Variables that would send boto3 elsewhere than AWS_ENDPOINT_URL says; tests unset them.
SHADOWING_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_SNS",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SERVICEDISCOVERY",
)


def aws_environment(endpoint: str) -> dict[str, str]:
    """The environment variables that point boto3 (in this process or another) at `endpoint`."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def _server_command() -> list[str]:
    script = Path(sys.executable).parent / "moto_server"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "moto.server"]


class EmulatorError(RuntimeError):
    pass


class Emulator:
    """A moto server subprocess on 127.0.0.1. Its output goes to `log_path`."""

    def __init__(self, port: int | None = None, log_dir: Path | str | None = None) -> None:
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="moto-"))
        self.log_path = self.log_dir / "moto_server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Emulator:
        """Start the server and wait until it answers. A port chosen here that turns out to be
        taken (another process won the race) is replaced by a fresh one; a fixed port is not."""
        if self.running:
            return self
        for _attempt in range(3):
            self._spawn()
            if self._wait_ready():
                return self
            self.stop()
            if self._fixed_port:
                break
            self.port = free_port()
        raise EmulatorError(f"moto_server did not start on {self.endpoint}:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, by PID; each wait bounded. The emulator's state is lost."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> Emulator:
        """Stop and start again on the same port. Everything the emulator held is gone."""
        self.stop()
        self._fixed_port = True
        return self.start()

    def reset(self) -> None:
        """Wipe the emulator's state (every queue, message, bus and rule) without restarting."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def answers(self, timeout: float = 1.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=timeout) as response:
                response.read()
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _spawn(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, "MOTO_PORT": str(self.port)}
        self._process = subprocess.Popen(
            [*_server_command(), "-H", HOST, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def _wait_ready(self) -> bool:
        return answering(
            self._process,
            lambda: self.answers(timeout=1.0),
            what=f"moto_server on {self.endpoint}",
            timeout=START_TIMEOUT,
            interval=0.05,
        )

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class AwsContext:
    """What the `aws` fixture gives a test: where AWS is, and the names that are its own.

    `env` holds the variables a subprocess needs (merge it into its environment): the AWS
    variables plus MODULITH_QUEUE_PREFIX and MODULITH_EVENT_BUS. `endpoint` is where this
    test's AWS traffic goes (the fault proxy's when the test uses `fault_proxy`);
    `emulator.endpoint` is always the emulator itself.
    """

    emulator: Emulator
    prefix: str
    bus: str
    env: dict[str, str]

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client configured from the environment only; `config` goes to botocore's
        Config (e.g. retries={"max_attempts": 1, "mode": "standard"})."""
        make_client: Any = boto3.client  # any service name, not only the literal ones
        return make_client(service, config=Config(**config) if config else None)
