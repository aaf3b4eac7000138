"""A throwaway PostgreSQL cluster for a benchmark, started the way .ci/with-postgres starts one
for the tests: initdb into a temporary directory under /tmp (as the postgres user when root), a free
port on 127.0.0.1, durability off (fsync, synchronous_commit, full_page_writes); one role and
the databases asked for. Stopped at the end by the postmaster's PID, and its directory removed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

USER = "bench"
PASSWORD = "bench"


def binaries() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name)
    )
    if not found or not (Path(found[-1]) / "initdb").exists():
        raise RuntimeError(
            "no PostgreSQL binaries under /usr/lib/postgresql/*/bin: "
            "apt-get install -y postgresql (then stop the Debian service it starts)"
        )
    return Path(found[-1])


@contextlib.contextmanager
def cluster(databases: Sequence[str]) -> Iterator[str]:
    """Yields the base URL (postgres://user:password@127.0.0.1:port) of a new cluster with
    these databases, owned by the role of the URL."""
    bin_dir = binaries()
    root = Path(tempfile.mkdtemp(prefix="modulith-bench-pg-", dir="/tmp"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "socket"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        for path in (data, sockets):
            shutil.chown(path, "postgres")
    data.chmod(0o700)
    pid = 0
    try:
        _as_owner(
            root,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
            "-c max_connections=100 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off"
        )
        _as_owner(
            root,
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "postgres.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
        )
        pid = int((data / "postmaster.pid").read_text().split()[0])
        statements = [f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"]
        statements += [f"CREATE DATABASE {name} OWNER {USER}" for name in databases]
        for statement in statements:  # CREATE DATABASE cannot run in a transaction block
            _as_owner(
                root,
                [
                    str(bin_dir / "psql"),
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    str(sockets),
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-c",
                    statement,
                ],
            )
        yield f"postgres://{USER}:{PASSWORD}@127.0.0.1:{port}"
    finally:
        if pid:
            _stop(pid)
        shutil.rmtree(root, ignore_errors=True)


def _as_owner(directory: Path, command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(
        command, cwd=directory, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        log = directory / "postgres.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{command[-1]} failed: {result.stderr or result.stdout}{tail}")


def _stop(pid: int) -> None:
    """A fast shutdown (SIGINT to the postmaster), then an immediate one if it lingers."""
    for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGQUIT, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
