"""The Lambda Runtime API, as far as a function's runtime interface client uses it
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): it hands out the queued
events one by one (`GET /2018-06-01/runtime/invocation/next`) and collects what the function
answers (`POST .../invocation/<id>/response`, `.../invocation/<id>/error`, `.../init/error`).
Lambda itself and its runtime emulator need Docker; this is the one piece the image talks to."""

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:shop-orders-web"


@dataclass
class Answer:
    request_id: str
    kind: str  # "response" or "error"
    body: Any


@dataclass
class RuntimeApi:
    """Serves on 127.0.0.1 (`address` is what AWS_LAMBDA_RUNTIME_API holds)."""

    events: "queue.Queue[tuple[str, Any]]" = field(default_factory=queue.Queue)
    answers: "queue.Queue[Answer]" = field(default_factory=queue.Queue)
    init_errors: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: Any, timeout: float = 30) -> Answer:
        """Queues one event and waits, bounded, for the function's answer to it."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        answer = self.answers.get(timeout=timeout)
        assert answer.request_id == request_id, answer
        return answer

    def __enter__(self) -> "RuntimeApi":
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self.send_error(404)
                    return
                while True:  # as Lambda does, the next invocation waits until there is one
                    try:
                        request_id, event = api.events.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if not api.thread.is_alive():
                            return
                body = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                deadline = int((time.time() + 30) * 1000)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_errors.append(body)
                elif len(parts) == 3 and parts[0] == "invocation":
                    api.answers.put(Answer(parts[1], parts[2], body))
                else:
                    self.send_error(404)
                    return
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads the answers, not an access log

        return Handler
