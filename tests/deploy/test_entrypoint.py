"""The image's entrypoint, run outside Docker exactly as the image runs it, and the Dockerfile."""

import contextlib
import fnmatch
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from modulith.testing import wait_until
from tests.processes import environment_without_settings, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
API_KEY = "test-key"


def image_environment(var_dir: Path, port: int) -> dict[str, str]:
    """The environment of a production-like container: no database URL (SQLite files under
    var_dir), no broker (Celery eager, embedded relay), DEBUG off (as the image leaves it) with
    keys of its own, behind a load balancer that terminates TLS (see `request`)."""
    inherited = environment_without_settings()
    return {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{inherited.get('PATH', '')}",
        "BIND": f"127.0.0.1:{port}",
        "MODULITH_VAR_DIR": str(var_dir),
        "DJANGO_STATIC_ROOT": str(var_dir / "static"),
        "MODULITH_LOAD_DEMO_CATALOGUE": "1",
        "WEB_CONCURRENCY": "1",
        "DJANGO_SECRET_KEY": "some-long-test-secret-that-is-only-used-by-this-test",
        "MODULITH_API_KEYS": API_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # gunicorn's control socket goes here rather than under the user's home.
        "XDG_RUNTIME_DIR": str(var_dir),
    }


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str, *, data: Any = None, headers: dict[str, str] | None = None, timeout: float = 5
) -> Response:
    """A request as the load balancer passes it on: it took it over TLS (DEBUG off redirects
    plain HTTP to HTTPS)."""
    body = None if data is None else json.dumps(data).encode()
    all_headers = {"X-Forwarded-Proto": "https"}
    all_headers |= {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    req = urllib.request.Request(url, data=body, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return Response(response.status, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read())


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM to the whole process group, SIGKILL if it does not go in time."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        return self.process.returncode


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has already gone
        os.killpg(pid, sig)


def wait_until_ready(server: Server, timeout: float = 30) -> None:
    def ready() -> str:
        if server.process.poll() is not None:
            pytest.fail(
                f"the entrypoint exited with {server.process.returncode}:\n{server.output()}"
            )
        response = request(f"{server.base_url}/health/ready", timeout=2)
        return f"{response.status} {response.body[:200]!r}"

    wait_until(
        ready,
        lambda answer: answer.startswith("200 "),
        awaiting="/health/ready to answer 200",
        timeout=timeout,
        interval=0.2,
        ignoring=(urllib.error.URLError, OSError),
        details=server.output,
    )


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Server]:
    """`deploy/entrypoint.sh web` with production settings and its own var dir, after the
    build-time step of the Dockerfile (collectstatic)."""
    var_dir = tmp_path / "var"
    port = free_port()
    env = image_environment(var_dir, port)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert collected.returncode == 0, collected.stderr
    log = tmp_path / "entrypoint.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(ENTRYPOINT), "web"],
            cwd=tmp_path,  # the entrypoint moves to the project itself, as in the image
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_the_entrypoint_serves_the_monolith_and_completes_the_saga(web: Server) -> None:
    wait_until_ready(web)

    placed = request(
        f"{web.base_url}/api/orders",
        data={"customerId": "c1", "items": [{"sku": "KB-001", "quantity": 1}]},
        headers={"X-API-Key": API_KEY},
    )
    assert placed.status == 201, (placed.body, web.output())
    order = placed.json()
    assert order["status"] == "PENDING"

    def status() -> str:
        fetched = request(
            f"{web.base_url}/api/orders/{order['orderId']}", headers={"X-API-Key": API_KEY}
        )
        assert fetched.status == 200, fetched.body
        return str(fetched.json()["status"])

    wait_until(
        status,
        lambda seen: seen == "CONFIRMED",
        awaiting=f"order {order['orderId']} to be confirmed",
        interval=0.1,
        details=web.output,
    )


@pytest.mark.slow
def test_the_entrypoint_refuses_other_keys_and_serves_the_docs_with_debug_off(
    web: Server,
) -> None:
    wait_until_ready(web)
    order = {"customerId": "c1", "items": [{"sku": "KB-001", "quantity": 1}]}
    for headers in ({}, {"X-API-Key": "dev-api-key"}):
        refused = request(f"{web.base_url}/api/orders", data=order, headers=headers)
        assert refused.status == 401, (headers, refused.body)

    docs = request(f"{web.base_url}/api/docs")
    assert docs.status == 200, docs.body
    # Its assets come from STATIC_ROOT through whitenoise: DEBUG is off, so no finders.
    stylesheet = re.search(rb'href="(/static/[^"]+\.css)"', docs.body)
    assert stylesheet, docs.body
    asset = request(web.base_url + stylesheet.group(1).decode())
    assert asset.status == 200
    assert asset.body

    assert web.stop() == 0, web.output()  # gunicorn stops cleanly on SIGTERM


def json_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                lines.append(record)
    return lines


@pytest.mark.slow
def test_every_request_leaves_one_json_line_and_no_gunicorn_access_line(web: Server) -> None:
    wait_until_ready(web)
    path = f"/api/orders/{uuid4()}"

    missing = request(web.base_url + path, headers={"X-API-Key": API_KEY})

    assert missing.status == 404, missing.body
    found = wait_until(
        lambda: [
            line
            for line in json_lines(web.log.read_text(errors="replace"))
            if line.get("http_path") == path
        ],
        awaiting=f"the JSON line of GET {path}",
        interval=0.1,
        details=web.output,
    )
    output = web.log.read_text(errors="replace")
    assert len(found) == 1, web.output()
    [line] = found
    assert (line["logger"], line["level"], line["http_method"]) == ("modulith.http", "INFO", "GET")
    assert (line["http_status"], line["module"]) == (404, "orders")
    assert len(line["trace_id"]) == 32
    # gunicorn's own access log is off: the JSON line is the only one naming the request,
    # and the health checks of wait_until_ready left none.
    assert sum(path in text for text in output.splitlines()) == 1, web.output()
    assert "/health/ready" not in output, web.output()


def test_hadolint_passes_the_dockerfile() -> None:
    hadolint = BIN / "hadolint"
    assert hadolint.exists(), f"hadolint is not installed next to {sys.executable}"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_context_keeps_what_the_image_runs() -> None:
    """.dockerignore leaves out local and development files, never what the image needs."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    needed = [
        "pyproject.toml",
        "platform/pyproject.toml",
        "manage.py",
        "deploy/entrypoint.sh",
        "config/settings.py",
        "contracts/orders.py",
        "modules/orders/apps.py",
        "platform/modulith/apps.py",
    ]
    for path in needed:
        assert (ROOT / path).exists(), path
        prefixes = ["/".join(path.split("/")[: i + 1]) for i in range(path.count("/") + 1)]
        excluded = [p for p in patterns for prefix in prefixes if fnmatch.fnmatch(prefix, p)]
        assert not excluded, f"{path} is excluded from the image by {excluded}"
    for path in (".venv", ".git", "var", "tests"):
        assert path in patterns, f"{path} should not be sent to the build"
    assert os.access(ENTRYPOINT, os.X_OK), "the image runs the entrypoint directly"
