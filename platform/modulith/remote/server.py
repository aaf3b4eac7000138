"""The provider side: internal endpoints that answer signed query calls.

Mounted under /internal/ by the project, never under the public /api/; the public API key
does not open them: only a signature made with MODULITH_INTERNAL_SECRET does.
"""

import logging
from datetime import timedelta

import pydantic
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from modulith.observability import otel
from modulith.observability.trace import span
from modulith.outbox.models import UsedNonce
from modulith.remote.methods import error_body, port_methods
from modulith.remote.signing import MAX_SKEW_SECONDS, SignatureRefused, Signer
from modulith.runtime import runtime

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def internal_call(request: HttpRequest, module: str, port: str, method: str) -> HttpResponse:
    topology = runtime().topology
    provided = {
        port_type.__name__: port_type
        for provider in topology.running_modules
        if provider.name == module
        for port_type in provider.provides
    }
    port_type = provided.get(port)
    described = port_methods(port_type).get(method) if port_type else None
    if port_type is None or described is None:
        return _reply(404, "not_found", f"{module} provides no {port}.{method} here")
    refusal = _refusal(request, module)
    if refusal:
        return refusal
    try:
        arguments = described.decode_arguments(request.body)
    except pydantic.ValidationError as error:
        return _reply(422, "invalid_arguments", str(error))
    implementation = runtime().ports.resolve(port_type)
    caller = request.headers.get("X-Modulith-Caller", "")
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
            return _reply(500, "provider_error", f"{type(error).__name__}: {error}")
    log.info("answered %s.%s for %s", port, method, caller)
    return HttpResponse(described.encode_result(result), content_type="application/json")


def _refusal(request: HttpRequest, module: str) -> HttpResponse | None:
    secret = settings.MODULITH_INTERNAL_SECRET
    if not secret:
        return _reply(403, "forbidden", "internal calls are disabled: no MODULITH_INTERNAL_SECRET")
    try:
        nonce = Signer(secret).verify(
            request.method or "", request.path, request.body, request.headers
        )
    except SignatureRefused as refused:
        return _reply(401, "unauthorized", str(refused))
    if not _first_use(runtime().topology.module(module).database, nonce):
        return _reply(401, "unauthorized", "the signature was already used (a replay)")
    return None


def _first_use(database: str, nonce: str) -> bool:
    now = timezone.now()
    try:
        with transaction.atomic(using=database):
            UsedNonce.objects.using(database).create(nonce=nonce)
    except IntegrityError:
        return False
    # Nonces older than the allowed skew can no longer be replayed: forget them.
    stale = now - timedelta(seconds=2 * MAX_SKEW_SECONDS)
    UsedNonce.objects.using(database).filter(seen_at__lt=stale).delete()
    return True


def _reply(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(error_body(code, message), status=status, content_type="application/json")
