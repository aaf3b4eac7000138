"""Consumers as separate processes, as a service runs them: `manage.py consume`."""

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from uuid import UUID

from tests.processes import BackgroundProcess

# A consumer that logs its SQL statements says when it is inside a message's handling: see
# `looked_up`.
LOGGING_ITS_SQL = {"DJANGO_SETTINGS_MODULE": "tests.sql_logged_settings", "DJANGO_DEBUG": "1"}


class ConsumerProcess(BackgroundProcess):
    """`manage.py consume --module M ... --wait N` sharing the test's databases and emulator."""

    def __init__(
        self, log_dir: Path, *modules: str, wait: int = 1, env: Mapping[str, str] | None = None
    ) -> None:
        self.modules = modules
        arguments = [arg for module in modules for arg in ("--module", module)]
        super().__init__(
            log_dir / f"consume-{'-'.join(modules)}-{time.monotonic_ns()}.log",
            [sys.executable, "manage.py", "consume", "--wait", str(wait), *arguments],
            {"PYTHONUNBUFFERED": "1", **(env or {})},
        )

    def start(self, timeout: float = 30) -> "ConsumerProcess":
        self.launch(lambda: "consuming" in self.output(), what="the consumer", timeout=timeout)
        return self

    def looked_up(self, event_id: UUID) -> bool:
        """Whether the consumer (started with LOGGING_ITS_SQL) has looked for the event in its
        module's inbox: it is inside the message's handling, past the point where a consumer
        told to stop gives a message back unhandled."""
        return any(
            "modulith_inboxrecord" in line and (event_id.hex in line or str(event_id) in line)
            for line in self.output().splitlines()
        )

    def __enter__(self) -> "ConsumerProcess":
        return self.start()
