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
from modulith.ports.remote.breaker import CircuitBreaker
from modulith.ports.remote.discovery import Discovery, ServiceNotFound
from modulith.ports.remote.methods import PortMethod, port_methods
from modulith.ports.remote.signing import Signer, canonical_target

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = {502, 503, 504}
# How much of a provider's error message goes into the error (and the log).
MESSAGE_CHARACTERS = 200


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
            url = httpx.URL(self.discovery.url_for(self.provider) + path)
            target = canonical_target(url.path, url.query.decode("ascii"))
            headers = {
                "Content-Type": "application/json",
                "traceparent": traceparent,
                **self.signer.headers("POST", target, body, self.caller),
            }
            response = self.http.post(url, content=body, headers=headers)
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
    """The provider's own one-line message (our error shape), else only what kind of body it
    was: an HTML error page, a proxy's or a debug page, is nobody's message, and could carry
    anything (DEBUG on, it shows the provider's settings)."""
    try:
        message = json.loads(response.content).get("message")
    except (ValueError, AttributeError):
        message = None
    if isinstance(message, str) and message.isprintable():
        return message[:MESSAGE_CHARACTERS]
    kind = response.headers.get("Content-Type", "no content type").split(";")[0].strip()
    return f"{len(response.content)} bytes of {kind[:60]}"
