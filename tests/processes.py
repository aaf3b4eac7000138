"""Running the project's own commands as separate processes, on the test databases."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Self

from django.db import connections

from modulith.testing import NotReached, wait_until

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answering(
    process: "subprocess.Popen[bytes] | None",
    answers: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    interval: float = 0.1,
) -> bool:
    """Whether a process just started answers (`answers()`) within `timeout` seconds; False
    as soon as it has exited (a port taken meanwhile, a bad configuration)."""

    def state() -> str:
        if process is None or process.poll() is not None:
            return "exited"
        return "answering" if answers() else "starting"

    try:
        return (
            wait_until(
                state,
                lambda seen: seen != "starting",
                awaiting=f"{what} to answer",
                timeout=timeout,
                interval=interval,
            )
            == "answering"
        )
    except NotReached:
        return False


def database_variable(alias: str) -> str:
    """The environment variable of a database alias (`<MODULE>_DATABASE_URL`)."""
    return "DATABASE_URL" if alias == "default" else f"{alias.upper()}_DATABASE_URL"


def database_url(alias: str) -> str:
    """The URL of the database a test is using under `alias` (its test database)."""
    settings = connections[alias].settings_dict
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    return (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:"
        f"{settings['PORT']}/{settings['NAME']}"
    )


def environment_without_settings() -> dict[str, str]:
    """This machine's environment without any of the project's own settings, as a freshly
    started container would see it."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.endswith("DATABASE_URL")
        and not name.startswith(("DJANGO_", "MODULITH_", "CELERY_"))
    }


# A project process runs in development unless its test says otherwise: DEBUG on, so the
# development secret key and API key. A test of production behaviour passes DJANGO_DEBUG="0"
# with a secret key and API keys of its own (DEBUG_OFF).
DEVELOPMENT = {"DJANGO_DEBUG": "1"}
TEST_API_KEY = "a-test-api-key"
DEBUG_OFF = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-long-secret-key-that-only-these-tests-use-0123456789abcdef",
    "MODULITH_API_KEYS": TEST_API_KEY,
}


def project_env(**overrides: str) -> dict[str, str]:
    """The environment of a project process that shares this test's databases: development
    unless `overrides` say otherwise."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}", **DEVELOPMENT}
    env.update({database_variable(alias): database_url(alias) for alias in connections})
    env.update(overrides)
    return env


def run_python(
    code: str, *, timeout: float = 60, env: Mapping[str, str] | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=project_env(**(env or {}), **variables),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=project_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class BackgroundProcess:
    """A project process running beside the test (a service, a consumer, a worker), in a
    process group of its own, its output in a log file; stopped by PID."""

    def __init__(self, log: Path, command: list[str], env: Mapping[str, str]) -> None:
        self.log = log
        self.command = command
        self.env = dict(env)
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self, ready: Callable[[], bool], *, what: str, timeout: float = 30) -> None:
        """Starts the process and waits, bounded, until `ready()` says it serves."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=project_env(**self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not answering(self.process, ready, what=what, timeout=timeout):
            self.stop()
            raise RuntimeError(f"{what} did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL to the whole group: no chance to finish what is in hand."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM to the group, then SIGKILL if it takes longer than `timeout`."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
