"""The provider side: internal endpoints that answer signed query calls.

Mounted under /internal/ by the project, never under the public /api/; the public API key
does not open them: only a signature made with one of MODULITH_INTERNAL_KEYS does. Nothing is
done before the signature is checked: every URL under /internal/, whatever its method or
shape, answers an unsigned or malformed call with the same 401, and nothing a caller sends is
converted before it has been matched against a strict form (`SignedHeaders`). After the
signature, the provider checks that the calling modules' manifests use the port (403
otherwise), and tells nothing of its internals: a failure answers with the port method's
name only, the exception stays in the provider's log.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pydantic
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from modulith.conf import modulith_settings
from modulith.observability import otel
from modulith.observability.trace import span
from modulith.ports.remote.methods import PortMethod, error_body, port_methods
from modulith.ports.remote.nonces import NonceStoreUnavailable, nonce_store
from modulith.ports.remote.signing import (
    MAX_SKEW_SECONDS,
    SignatureRefused,
    SignedHeaders,
    Signer,
    canonical_target,
)
from modulith.runtime import runtime

log = logging.getLogger(__name__)

UNSIGNED = "the call is not signed"
# Kept twice the skew: a signature is fresh for MAX_SKEW_SECONDS either side of its timestamp.
NONCE_LIFETIME = timedelta(seconds=2 * MAX_SKEW_SECONDS)


@dataclass(frozen=True)
class Call:
    """What the path of a signed call names."""

    module: str
    port: str
    method: str


@csrf_exempt
def internal_call(request: HttpRequest, target: str) -> HttpResponse:
    try:
        signed = verify(request)
    except NonceStoreUnavailable as error:
        log.error("cannot check internal calls for replays: %s", error)
        return _reply(
            503, "unavailable", "the service cannot check internal calls now; try again later"
        )
    if isinstance(signed, HttpResponse):
        return signed
    if request.method != "POST":
        return _reply(405, "method_not_allowed", "internal calls are POST requests")
    call = _call(target)
    if call is None:
        return _reply(404, "not_found", "internal calls are /internal/<module>/<Port>/<method>")
    port_type, described = _provided(call)
    if port_type is None or described is None:
        return _reply(404, "not_found", f"{call.module} provides no {call.port}.{call.method} here")
    strangers = [name for name in signed.callers if not _uses(name, port_type)]
    if strangers:
        log.warning(
            "refused %s.%s to %s: not a user of the port", call.port, call.method, strangers
        )
        return _reply(
            403,
            "forbidden",
            f"{','.join(strangers)} does not use {call.port}: only modules whose manifest "
            "uses a port may call it",
        )
    try:
        arguments = described.decode_arguments(request.body)
    except pydantic.ValidationError as error:
        return _reply(422, "invalid_arguments", _problems(error))
    return _answer(call, described, arguments, ",".join(signed.callers))


def _answer(
    call: Call, described: PortMethod, arguments: dict[str, Any], caller: str
) -> HttpResponse:
    implementation = runtime().ports.resolve(described.port)
    attributes: dict[str, str | int] = {
        otel.MODULE: call.module,
        "modulith.caller": caller,
        "rpc.service": call.port,
        "rpc.method": call.method,
    }
    with span(f"{call.port}.{call.method}", attributes=attributes):
        try:
            result = getattr(implementation, call.method)(**arguments)
        except Exception as error:
            log.exception("%s.%s failed for %s", call.port, call.method, caller)
            otel.fail(f"{type(error).__name__}: {error}")
            return _reply(500, "provider_error", f"{call.port}.{call.method} failed")
    log.info("answered %s.%s for %s", call.port, call.method, caller)
    return HttpResponse(described.encode_result(result), content_type="application/json")


@sensitive_variables("keys", "signer")
def verify(request: HttpRequest) -> SignedHeaders | HttpResponse:
    """The signed headers of a correctly signed, fresh, first-seen call, or the answer that
    refuses it. The same answer, whatever the path, for every call that is not signed or
    whose signed headers are malformed: it says nothing of which ports exist. Raises
    NonceStoreUnavailable when the call cannot be told from a replay."""
    keys = modulith_settings().internal_keys
    if not keys:
        return _reply(403, "forbidden", "internal calls are disabled: no MODULITH_INTERNAL_KEYS")
    signed = SignedHeaders.parse(request.headers)
    if signed is None:
        return _reply(401, "unauthorized", UNSIGNED)
    signer = Signer(keys)
    try:
        signer.key_for(signed)  # what can be refused before the body is read
        body = request.body
        target = canonical_target(request.path, request.META.get("QUERY_STRING", ""))
        signer.verify(request.method or "", target, body, signed)
    except SignatureRefused as refused:
        log.warning(
            "refused an internal call from %s: %s (key %s)",
            ",".join(signed.callers),
            refused,
            signed.key_id,
        )
        return _reply(401, "unauthorized", str(refused))
    except (SuspiciousOperation, OSError, ValueError) as unreadable:
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE, a caller gone mid-body, a query of too
        # many parameters: nothing that could be verified.
        log.warning("refused an internal call: %s", type(unreadable).__name__)
        return _reply(401, "unauthorized", UNSIGNED)
    return _first_use(signed)


def _first_use(signed: SignedHeaders) -> SignedHeaders | HttpResponse:
    if not nonce_store(modulith_settings()).first_use(signed.nonce, keep=NONCE_LIFETIME):
        return _reply(401, "unauthorized", "the signature was already used (a replay)")
    return signed


def _call(target: str) -> Call | None:
    parts = target.split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return Call(*parts)


def _provided(call: Call) -> tuple[type[Any] | None, PortMethod | None]:
    provided = {
        port_type.__name__: port_type
        for provider in runtime().topology.running_modules
        if provider.name == call.module
        for port_type in provider.provides
    }
    port_type = provided.get(call.port)
    return port_type, port_methods(port_type).get(call.method) if port_type else None


def _uses(module: str, port: type[Any]) -> bool:
    return any(m.name == module and port in m.uses for m in runtime().topology.modules)


def _problems(error: pydantic.ValidationError) -> str:
    """The fields and what is wrong with them, without the values that were sent."""
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'arguments'}: {issue['msg']}"
        for issue in error.errors(include_url=False, include_input=False)
    )


def _reply(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(error_body(code, message), status=status, content_type="application/json")
