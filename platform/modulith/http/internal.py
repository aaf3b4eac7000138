"""The provider side: internal endpoints that answer signed query calls.

Mounted under /internal/ by the project, never under the public /api/; the public API key
does not open them: only a signature made with MODULITH_INTERNAL_SECRET does. Nothing is
told before the signature is checked (an unknown port is refused like a known one), and
nothing of the provider's internals is told after: a failure answers with the port method's
name only, the exception stays in the provider's log.
"""

import logging
from typing import Any

import pydantic
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from modulith.conf import modulith_settings
from modulith.observability import otel
from modulith.observability.trace import span
from modulith.remote.methods import PortMethod, error_body, port_methods
from modulith.remote.signing import CALLER, MAX_SKEW_SECONDS, SignatureRefused, Signer
from modulith.runtime import runtime

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def internal_call(request: HttpRequest, module: str, port: str, method: str) -> HttpResponse:
    refusal = _refusal(request)
    if refusal:
        return refusal
    port_type, described = _provided(module, port, method)
    if port_type is None or described is None:
        return _reply(404, "not_found", f"{module} provides no {port}.{method} here")
    try:
        arguments = described.decode_arguments(request.body)
    except pydantic.ValidationError as error:
        return _reply(422, "invalid_arguments", _problems(error))
    implementation = runtime().ports.resolve(port_type)
    caller = request.headers.get(CALLER, "")
    attributes: dict[str, str | int] = {
        otel.MODULE: module,
        "modulith.caller": caller,
        "rpc.service": port,
        "rpc.method": method,
    }
    with span(f"{port}.{method}", attributes=attributes):
        try:
            result = getattr(implementation, method)(**arguments)
        except Exception as error:
            log.exception("%s.%s failed for %s", port, method, caller)
            otel.fail(f"{type(error).__name__}: {error}")
            return _reply(500, "provider_error", f"{port}.{method} failed")
    log.info("answered %s.%s for %s", port, method, caller)
    return HttpResponse(described.encode_result(result), content_type="application/json")


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """Why the call is refused before anything else, or None for a signed, first-seen call.
    The same for every path: it says nothing of which ports exist."""
    secret = modulith_settings().internal_secret
    if not secret:
        return _reply(403, "forbidden", "internal calls are disabled: no MODULITH_INTERNAL_SECRET")
    try:
        nonce = Signer(secret).verify(
            request.method or "", request.path, request.body, request.headers
        )
    except SignatureRefused as refused:
        return _reply(401, "unauthorized", str(refused))
    if not _first_use(nonce):
        return _reply(401, "unauthorized", "the signature was already used (a replay)")
    return None


def _first_use(nonce: str) -> bool:
    """Remembers the nonce in the shared cache for as long as its signature is fresh; False
    when it was already there. An atomic add: two providers cannot both take the same one."""
    cache = caches[modulith_settings().nonce_cache]
    return bool(cache.add(f"modulith:nonce:{nonce}", 1, timeout=2 * MAX_SKEW_SECONDS))


def _provided(module: str, port: str, method: str) -> tuple[type[Any] | None, PortMethod | None]:
    provided = {
        port_type.__name__: port_type
        for provider in runtime().topology.running_modules
        if provider.name == module
        for port_type in provider.provides
    }
    port_type = provided.get(port)
    return port_type, port_methods(port_type).get(method) if port_type else None


def _problems(error: pydantic.ValidationError) -> str:
    """The fields and what is wrong with them, without the values that were sent."""
    return "; ".join(
        f"{'.'.join(str(part) for part in issue['loc']) or 'arguments'}: {issue['msg']}"
        for issue in error.errors(include_url=False, include_input=False)
    )


def _reply(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(error_body(code, message), status=status, content_type="application/json")
