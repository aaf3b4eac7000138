"""The client side of a query port whose provider runs elsewhere, generated from the port."""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from modulith.bus import current_envelope
from modulith.contracts import ProviderError, ProviderUnavailable
from modulith.observability import otel
from modulith.observability.trace import span
from modulith.outbox.retry import RetryPolicy
from modulith.remote.breaker import CircuitBreaker
from modulith.remote.discovery import Discovery, ServiceNotFound
from modulith.remote.methods import PortMethod, port_methods
from modulith.remote.signing import Signer

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = {502, 503, 504}


@dataclass
class RemoteCaller:
    """Calls one provider: signed, timed out, retried with backoff, behind a breaker.

    Inside a delivery (an event's handler running in this thread) a call makes one attempt:
    the bus retries the whole delivery itself, with its own backoff; retrying here too would
    multiply the attempts and keep the delivery (and its worker) waiting meanwhile."""

    provider: str
    caller: str
    discovery: Discovery
    signer: Signer
    http: httpx.Client
    breaker: CircuitBreaker
    attempts: int = 3
    backoff: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(base_seconds=0.1, max_seconds=1.0)
    )

    def call(self, method: PortMethod, body: bytes) -> bytes:
        if not self.breaker.allows():
            raise ProviderUnavailable(self.provider, "circuit open after repeated failures")
        attempts = 1 if current_envelope() is not None else self.attempts
        problem = ""
        for attempt in range(1, attempts + 1):
            try:
                response = self._post(method, body)
            except (httpx.TransportError, ServiceNotFound) as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    self.breaker.succeeded()
                    return response.content
                problem = f"HTTP {response.status_code}: {_message(response)}"
                if response.status_code not in RETRYABLE_STATUSES:
                    self._refused(response)
                    raise ProviderError(self.provider, problem)
            log.warning(
                "%s call to %s failed (attempt %d): %s",
                method.name,
                self.provider,
                attempt,
                problem,
            )
            if attempt < attempts:
                time.sleep(self.backoff.delay(attempt).total_seconds())
        self.breaker.failed()
        raise ProviderUnavailable(self.provider, problem)

    def _post(self, method: PortMethod, body: bytes) -> httpx.Response:
        path = method.path(self.provider)
        port = method.port.__name__
        attributes: dict[str, str | int] = {
            otel.MODULE: self.caller,
            "modulith.provider": self.provider,
            "rpc.service": port,
            "rpc.method": method.name,
        }
        # The call goes in the caller's trace (a client span of it with OpenTelemetry on).
        with span(f"{port}.{method.name}", kind="client", attributes=attributes) as traceparent:
            headers = {
                "Content-Type": "application/json",
                "traceparent": traceparent,
                **self.signer.headers("POST", path, body, self.caller),
            }
            response = self.http.post(
                self.discovery.url_for(self.provider) + path, content=body, headers=headers
            )
            otel.annotate({"http.response.status_code": response.status_code})
            if response.status_code >= 500:
                otel.fail(f"HTTP {response.status_code}")
            return response

    def _refused(self, response: httpx.Response) -> None:
        # The provider answered: it is up, whatever it thought of the request.
        if response.status_code < 500:
            self.breaker.succeeded()
        else:
            self.breaker.failed()


def remote_port(port: type[Any], caller: RemoteCaller) -> Any:
    """An object with the port's methods, each a signed HTTP call to the provider."""
    namespace: dict[str, Any] = {"__doc__": f"{port.__name__} answered by {caller.provider}."}
    for name, method in port_methods(port).items():
        namespace[name] = _remote_method(method, caller)
    return type(f"Remote{port.__name__}", (), namespace)()


def _remote_method(method: PortMethod, caller: RemoteCaller) -> Callable[..., Any]:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        body = method.encode_arguments(args, kwargs)
        return method.decode_result(caller.call(method, body))

    call.__name__ = method.name
    return call


def _message(response: httpx.Response) -> str:
    try:
        return str(json.loads(response.content).get("message", ""))[:300]
    except (ValueError, AttributeError):
        return response.text[:300]
