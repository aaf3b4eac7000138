"""A fault-injecting HTTP proxy in front of the AWS emulator, in the spirit of Toxiproxy.

Point a client at `FaultProxy.endpoint` (through `AWS_ENDPOINT_URL`) and it forwards every
request to the emulator and returns the emulator's answer unchanged, except for the faults a
test arms. SQS and EventBridge speak the AWS JSON protocol: a POST whose `X-Amz-Target` header
names the operation (`AmazonSQS.SendMessageBatch`, `AWSEvents.PutEvents`) and a JSON body.
SNS and STS speak the query protocol: a form whose `Action` names the operation; the proxy
names such a call by the service in its signature and the action (`sns.PublishBatch`).

Each fault applies to the next `times` calls of its target (the full `X-Amz-Target` value or
just the operation name) and then disarms itself:

- `fail_batch_entries`: the chosen entries of a SendMessageBatch or PutEvents call never reach
  the emulator and come back as failed entries, the way AWS reports a partial failure (JSON
  protocol calls only);
- `throttle`: the call is answered with AWS's throttling error, without reaching the emulator;
- `drop_connections`: the connection is closed without an answer.

`refuse_connections()` takes the whole endpoint down, as an emulator or a network that is out:
the listening socket and every open connection are closed, so clients get "connection
refused" until `accept_connections()` listens again on the same port.

`arrived` counts calls per `X-Amz-Target` as they come in (a long poll while the emulator
still holds it), `forwarded` and `faulted` as they are answered.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "content-length",
}  # fmt: skip
THROTTLING_BODY = {"__type": "ThrottlingException", "message": "Rate exceeded"}
QUERY_THROTTLING_BODY = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    "<Message>Rate exceeded</Message></Error><RequestId>{}</RequestId></ErrorResponse>"
)
# The service of a signed request: AWS4-HMAC-SHA256 Credential=key/date/region/SERVICE/...
SIGNED_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


@dataclass
class _Fault:
    kind: str  # "fail_entries" | "throttle" | "drop"
    target: str
    times: int
    every: int | None = None
    indexes: frozenset[int] = field(default_factory=frozenset)

    def matches(self, target: str) -> bool:
        return target == self.target or target.endswith("." + self.target)

    def positions(self, count: int) -> list[int]:
        if self.every:
            return [i for i in range(count) if (i + 1) % self.every == 0]
        return sorted(i for i in self.indexes if 0 <= i < count)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.arrived: Counter[str] = Counter()
        self.forwarded: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._port = 0  # where to listen: any free port, or after a refusal the one it had

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "the proxy is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # Faults ----------------------------------------------------------------------------------
    def fail_batch_entries(
        self, target: str, *, every: int | None = None, indexes: Iterable[int] = (), times: int = 1
    ) -> None:
        """Fail every `every`-th entry (the 2nd, 4th, ... for every=2) or the entries at the
        0-based `indexes` of the next `times` batch calls."""
        if (every is None) == (not indexes):
            raise ValueError("give either every= or indexes=")
        self._arm(_Fault("fail_entries", target, times, every, frozenset(indexes)))

    def throttle(self, target: str, times: int = 1) -> None:
        self._arm(_Fault("throttle", target, times))

    def drop_connections(self, target: str, times: int = 1) -> None:
        self._arm(_Fault("drop", target, times))

    def disarm(self) -> None:
        with self._lock:
            self._faults.clear()

    def _arm(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take(self, target: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(target):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    self.faulted[target] += 1
                    return fault
        return None

    # Lifecycle -------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
            self._server.daemon_threads = True
            self._server.proxy = self  # type: ignore[attr-defined]
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def refuse_connections(self) -> None:
        """Stops listening and closes every open connection: from now on a client's connect
        is refused, until `accept_connections()`."""
        if self._server is not None:
            self._port = self._server.server_address[1]
        self.stop()

    def accept_connections(self) -> FaultProxy:
        """Listens again, on the port it had before `refuse_connections()`."""
        return self.start()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the client, as botocore expects
    timeout = 30  # an idle client connection is closed after this many seconds

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.proxy._lock:
            self.proxy._connections.add(self.connection)

    def finish(self) -> None:
        with self.proxy._lock:
            self.proxy._connections.discard(self.connection)
        super().finish()

    @property
    def proxy(self) -> FaultProxy:
        return self.server.proxy  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # the JSON protocol is all POSTs
        try:
            self._handle()
        except OSError:  # the emulator is down or the client went away: close, as it would
            self.close_connection = True

    # S3 speaks REST: its calls are forwarded as they come, and can be refused as a whole.
    def do_GET(self) -> None:
        self.do_POST()

    def do_PUT(self) -> None:
        self.do_POST()

    def do_HEAD(self) -> None:
        self.do_POST()

    def do_DELETE(self) -> None:
        self.do_POST()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target") or self._query_target(body)
        with self.proxy._lock:
            self.proxy.arrived[target] += 1
        fault = self.proxy._take(target)
        if fault is None:
            self._reply(*self._forward(target, body))
        elif fault.kind == "drop":
            self.close_connection = True
        elif fault.kind == "throttle" and "X-Amz-Target" not in self.headers:
            xml = QUERY_THROTTLING_BODY.format(uuid.uuid4()).encode()
            self._reply(400, xml, {"Content-Type": "text/xml"})
        elif fault.kind == "throttle":
            headers = {**self._json_headers(), "x-amzn-query-error": "ThrottlingException;Sender"}
            self._reply(400, json.dumps(THROTTLING_BODY).encode(), headers)
        else:
            request = json.loads(body)
            entries = request.get("Entries", [])
            failed = set(fault.positions(len(entries)))
            request["Entries"] = [e for i, e in enumerate(entries) if i not in failed]
            if request["Entries"]:
                status, data, headers = self._forward(target, json.dumps(request).encode())
            else:  # nothing left to send: the answer holds only the failures
                status, data, headers = 200, b"{}", self._json_headers()
            if status == 200:
                data = _with_failures(target, entries, failed, json.loads(data or b"{}"))
            self._reply(status, data, headers)

    def _query_target(self, body: bytes) -> str:
        """`service.Action` of a query-protocol call, e.g. `sns.PublishBatch`."""
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        service = SIGNED_SERVICE.search(self.headers.get("Authorization", ""))
        return f"{service.group(1) if service else 'query'}.{action}" if action else ""

    def _forward(self, target: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        upstream = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
            headers = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
        finally:
            upstream.close()
        with self.proxy._lock:
            self.proxy.forwarded[target] += 1
        return response.status, data, headers

    def _json_headers(self) -> dict[str, str]:
        return {
            "Content-Type": self.headers.get("Content-Type", "application/x-amz-json-1.0"),
            "x-amzn-RequestId": str(uuid.uuid4()),
        }

    def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _with_failures(target: str, entries: list[Any], failed: set[int], response: Any) -> bytes:
    """The emulator's answer for the entries it received, with the failed ones added back."""
    if target.endswith("PutEvents"):
        kept = iter(response.get("Entries", []))
        error = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}
        response["Entries"] = [
            dict(error) if i in failed else next(kept) for i in range(len(entries))
        ]
        response["FailedEntryCount"] = response.get("FailedEntryCount", 0) + len(failed)
    else:
        response.setdefault("Successful", [])
        failure = {"SenderFault": False, "Code": "InternalError", "Message": "injected"}
        injected = [{"Id": entries[i]["Id"], **failure} for i in sorted(failed)]
        response["Failed"] = response.get("Failed", []) + injected
    return json.dumps(response).encode()
