"""Consumers as separate processes, as a service runs them: `manage.py consume`."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from tests.processes import ROOT, project_env


class ConsumerProcess:
    """`manage.py consume --module M ...` sharing the test's databases and emulator."""

    def __init__(self, log_dir: Path, *modules: str, **env: str) -> None:
        self.modules = modules
        self.env = env
        self.log = log_dir / f"consume-{'-'.join(modules)}-{time.monotonic_ns()}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> "ConsumerProcess":
        arguments = [arg for module in self.modules for arg in ("--module", module)]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "consume", "--wait", "1", *arguments],
                cwd=ROOT,
                env=project_env(**self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while "consuming" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the consumer did not start:\n{self.output()}")
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no chance to finish the message in hand."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> int | None:
        if not self.process:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def __enter__(self) -> "ConsumerProcess":
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
