"""A service of the split topology as a real process: gunicorn serving the project with the
environment of one deployment, on the test's databases (or uvicorn, serving it under ASGI)."""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.processes import BackgroundProcess, free_port


class Service(BackgroundProcess):
    """`shared_port`: a port the service also listens on with SO_REUSEPORT, which every task of
    one service shares, as the tasks behind a service's address do: the kernel spreads the
    connections among the tasks listening, old and new, during a rolling deployment. `port`
    is this task's own."""

    def __init__(
        self,
        log_dir: Path,
        name: str,
        *,
        port: int | None = None,
        shared_port: int | None = None,
        asgi: bool = False,
        env: Mapping[str, str] | None = None,
        **variables: str,
    ) -> None:
        self.name = name
        self.port = port or free_port()
        server = Path(sys.executable).with_name("uvicorn" if asgi else "gunicorn")
        if asgi:
            if shared_port:
                raise ValueError("uvicorn listens on one port: no shared_port")
            command = [
                str(server),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--no-access-log",
            ]
        else:
            shared = ["--bind", f"127.0.0.1:{shared_port}", "--reuse-port"] if shared_port else []
            command = [
                str(server),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                *shared,
                "--workers",
                "1",
                "--threads",
                "4",
                "--timeout",
                "30",
            ]
        super().__init__(log_dir / f"{name}-{self.port}.log", command, {**(env or {}), **variables})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Service":
        self.launch(self._ready, what=self.name, timeout=timeout)
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def __enter__(self) -> "Service":
        return self.start()


os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
