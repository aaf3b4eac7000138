"""The one place where errors become HTTP responses: a status and a message naming the field.

Body: {"error": "<code>", "message": "<one readable line>", "errors": [{"field", "message"}]},
and, when a provider failed the request, "traceId" (the detail is in the log under it).
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from modulith.contracts import ProviderError, ProviderUnavailable, QueryError
from modulith.errors import DomainError
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
    """Registers our error shape on `api`, for invalid input, domain errors and port errors."""

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
            message = "send a valid X-API-Key header to change state"
        return _reply(api, request, exc.status_code, code, message, [])

    api.add_exception_handler(ValidationError, validation_failed)  # type: ignore[arg-type]
    api.add_exception_handler(DomainError, domain_error)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, http_error)  # type: ignore[arg-type]
    for error_type, (status, code, message) in PORT_ERRORS.items():
        api.add_exception_handler(error_type, _port_error(api, status, code, message))


def _port_error(api: NinjaAPI, status: int, code: str, message: str) -> Any:
    def handler(request: HttpRequest, exc: QueryError) -> HttpResponse:
        provider = getattr(exc, "provider", "a module")
        log.warning("%s %s answered %d: %s", request.method, request.path, status, exc)
        body = {
            "error": code,
            "message": message.format(provider=provider),
            "errors": [],
            "traceId": trace_id(),
        }
        return api.create_response(request, body, status=status)

    return handler


def _reply(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    problems: Sequence[Mapping[str, Any]],
) -> HttpResponse:
    body = {"error": code, "message": message, "errors": list(problems)}
    return api.create_response(request, body, status=status)


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
