"""What the remote port tests share: inventory as a service of its own, this process as the
caller, and a small provider of our own that answers what a test tells it to."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modulith.conf.keys import SigningKeys
from modulith.modules import Topology
from modulith.ports.remote.signing import Signer
from tests.service import Service

SECRET = "internal-test-secret"
PRICES = "/internal/inventory/InventoryQueries/prices"
# What every service of these tests signs with: MODULITH_INTERNAL_SECRET's one key.
SIGNER = Signer(SigningKeys.single(SECRET))


@pytest.fixture(autouse=True)
def _a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events travel by queue in a split: the transport needs a region (no call is made)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def inventory_alone(log_dir: Path, name: str, **env: str) -> Service:
    """inventory alone, as its own service (events travel by queue in a split), on the test
    databases; not started yet."""
    return Service(
        log_dir,
        name,
        env={
            "MODULITH_MODULES": "inventory",
            "MODULITH_TRANSPORT": "sqs",
            "MODULITH_INTERNAL_SECRET": SECRET,
            "DJANGO_DEBUG": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            **env,
        },
    )


@pytest.fixture(scope="module")
def inventory_service(
    tmp_path_factory: pytest.TempPathFactory, django_db_setup: None
) -> Iterator[Service]:
    """inventory as its own service, started once per test file; its nonces in the default
    cache (the table in Django's own database)."""
    with inventory_alone(tmp_path_factory.mktemp("inventory"), "inventory") as service:
        yield service


def running_only(
    settings: Any, modules: list[str], service_urls: str, *, keys: str | None = None
) -> None:
    """This process runs only `modules`; the others answer at `service_urls`. It signs with
    SECRET, or with `keys` (MODULITH_INTERNAL_KEYS) when given."""
    if keys is None:
        settings.MODULITH_INTERNAL_SECRET = SECRET
    else:
        settings.MODULITH_INTERNAL_KEYS = keys
    settings.MODULITH_SERVICE_URLS = service_urls
    settings.MODULITH_TRANSPORT = "sqs"
    settings.MODULITH_TOPOLOGY = Topology.load(settings.MODULITH_MANIFESTS, modules)


def orders_without_inventory(settings: Any, inventory_url: str, *, keys: str | None = None) -> None:
    """This process becomes the orders+payments service; inventory runs elsewhere."""
    running_only(settings, ["orders", "payments"], f"inventory={inventory_url}", keys=keys)


class FakeProvider:
    """A real HTTP server on 127.0.0.1 that answers every POST with `status` and `body` (JSON,
    or bytes as they are, of `content_type`), counts the requests that reached it and keeps
    the last one's headers and body."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = []
        self.content_type = "application/json"
        self.requests = 0
        self.last: tuple[dict[str, str], bytes, str] = ({}, b"", "")
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with provider._lock:
                    provider.requests += 1
                    provider.last = (dict(self.headers.items()), received, self.path)
                    status, body = provider.status, provider.body
                    content_type = provider.content_type
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test asserts on the counts

        return Handler

    def __enter__(self) -> "FakeProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider
