"""The one place where errors become HTTP responses: a status and a message naming the field.

Body: {"error": "<code>", "message": "<one readable line>", "errors": [{"field", "message"}]};
when the server or a provider failed the request, "traceId" too (the detail is in the log under
it). Whatever DEBUG says, the public API answers every error in this shape, never with a
traceback or Django's pages: an unexpected exception is logged with its trace id and answered
500, a body over DATA_UPLOAD_MAX_MEMORY_SIZE 413, a body that is not JSON 415, a path under
/api/ that names nothing 404.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from modulith.contracts import ProviderError, ProviderUnavailable, QueryError
from modulith.modules.errors import DomainError
from modulith.observability.trace import trace_id

log = logging.getLogger(__name__)

_SKIPPED_LOCATIONS = {"body", "query", "path", "header", "payload"}
# A query port's provider that cannot be reached, or that failed: the caller's request cannot
# be answered now, through no fault of its own. What the client reads says what failed and
# what to do; what went wrong (a connection error, a refused signature) is logged with the
# trace id, which the answer carries for support to find it.
PORT_ERRORS: Mapping[type[Exception], tuple[int, str, str]] = {
    ProviderUnavailable: (
        503,
        "provider_unavailable",
        "{provider} is unavailable; try again later",
    ),
    ProviderError: (
        502,
        "provider_error",
        "{provider} could not answer this request; try again later",
    ),
}


def install_error_handlers(api: NinjaAPI) -> None:
    """Registers our error shape on `api`, for every error an operation can meet: invalid
    input, domain and port errors, a missing key, a body too large or not JSON, and any
    exception besides."""

    def validation_failed(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        problems = [_problem(issue) for issue in exc.errors]
        message = "; ".join(
            f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems
        )
        return _reply(api, request, 422, "validation_error", message, problems)

    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        problems = [{"field": exc.field, "message": exc.message}] if exc.field else []
        message = f"{exc.field}: {exc.message}" if exc.field else exc.message
        return _reply(api, request, exc.status_code, exc.code, message, problems)

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = "unauthorized" if isinstance(exc, AuthenticationError) else "bad_request"
        message = str(exc.message)
        if isinstance(exc, AuthenticationError):
            message = "send a valid X-API-Key header"
        return _reply(api, request, exc.status_code, code, message, [])

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _reply(api, request, 404, "not_found", NOTHING_HERE, [])

    def too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return _reply(api, request, 413, "payload_too_large", _too_large(), [])

    def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        log.warning("refused %s %s: %s", request.method, request.path, type(exc).__name__)
        return _reply(api, request, 400, "bad_request", "the request was refused as malformed", [])

    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.error("%s %s failed", request.method, request.path, exc_info=exc)
        message = f"the server failed to answer; quote trace id {trace_id()} when you report it"
        return _traced(api, request, 500, "internal_error", message)

    api.add_exception_handler(ValidationError, validation_failed)  # type: ignore[arg-type]
    api.add_exception_handler(DomainError, domain_error)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, http_error)  # type: ignore[arg-type]
    api.add_exception_handler(Http404, not_found)  # type: ignore[arg-type]
    api.add_exception_handler(RequestDataTooBig, too_large)  # type: ignore[arg-type]
    api.add_exception_handler(SuspiciousOperation, suspicious)  # type: ignore[arg-type]
    api.add_exception_handler(Exception, unexpected)  # type: ignore[arg-type]
    api.add_decorator(_json_bodies_only(api), mode="view")
    for error_type, (status, code, message) in PORT_ERRORS.items():
        api.add_exception_handler(error_type, _port_error(api, status, code, message))


NOTHING_HERE = "nothing is here: see /api/docs for the API's paths"


@csrf_exempt
def api_not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """A path under the API's prefix that names no operation: the JSON 404, never Django's
    page (which, with DEBUG on, lists every URL pattern)."""
    return JsonResponse(_body("not_found", NOTHING_HERE, []), status=404)


def _json_bodies_only(api: NinjaAPI) -> Callable[[Callable[..., HttpResponse]], Any]:
    """Refuses, before anything else, a request with a body that is not JSON (a wrong or
    missing Content-Type): 415, naming what the API accepts."""

    def decorate(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        def checked(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if _has_body(request) and not _is_json(request.content_type or ""):
                sent = request.content_type or "no Content-Type"
                message = f"send the body as JSON, with Content-Type: application/json (not {sent})"
                return _reply(api, request, 415, "unsupported_media_type", message, [])
            return run(request, **kwargs)

        return checked

    return decorate


def _has_body(request: HttpRequest) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return True  # a length that is not a number: there is something, and it is not JSON


def _is_json(content_type: str) -> bool:
    """application/json, or a JSON-based type (application/merge-patch+json)."""
    kind = content_type.strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _too_large() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"the body is larger than the {limit} bytes this API accepts"


def _port_error(api: NinjaAPI, status: int, code: str, message: str) -> Any:
    def handler(request: HttpRequest, exc: QueryError) -> HttpResponse:
        provider = getattr(exc, "provider", "a module")
        log.warning("%s %s answered %d: %s", request.method, request.path, status, exc)
        return _traced(api, request, status, code, message.format(provider=provider))

    return handler


def _traced(
    api: NinjaAPI, request: HttpRequest, status: int, code: str, message: str
) -> HttpResponse:
    """A failure that is not the client's: the answer carries the trace id of its log lines."""
    body = {**_body(code, message, []), "traceId": trace_id()}
    return api.create_response(request, body, status=status)


def _reply(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    problems: Sequence[Mapping[str, Any]],
) -> HttpResponse:
    return api.create_response(request, _body(code, message, problems), status=status)


def _body(code: str, message: str, problems: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"error": code, "message": message, "errors": list(problems)}


def _problem(issue: Mapping[str, Any]) -> dict[str, Any]:
    return {"field": _field(issue.get("loc", ())), "message": _message(issue)}


def _field(location: Sequence[Any]) -> str:
    """('body', 'payload', 'items', 0, 'quantity') -> 'items[0].quantity'."""
    parts = list(location)
    while parts and parts[0] in _SKIPPED_LOCATIONS:
        parts.pop(0)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(issue: Mapping[str, Any]) -> str:
    message = str(issue.get("msg", "is invalid"))
    if issue.get("type") == "missing":
        return "is required"
    return message[0].lower() + message[1:] if message else message
