"""Consumers as separate processes, as a service runs them: `manage.py consume`."""

import sys
import time
from pathlib import Path

from tests.processes import BackgroundProcess


class ConsumerProcess(BackgroundProcess):
    """`manage.py consume --module M ...` sharing the test's databases and emulator."""

    def __init__(self, log_dir: Path, *modules: str, **env: str) -> None:
        self.modules = modules
        arguments = [arg for module in modules for arg in ("--module", module)]
        super().__init__(
            log_dir / f"consume-{'-'.join(modules)}-{time.monotonic_ns()}.log",
            [sys.executable, "manage.py", "consume", "--wait", "1", *arguments],
            env,
        )

    def start(self, timeout: float = 30) -> "ConsumerProcess":
        self.launch(lambda: "consuming" in self.output(), what="the consumer", timeout=timeout)
        return self

    def __enter__(self) -> "ConsumerProcess":
        return self.start()
