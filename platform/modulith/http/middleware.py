"""Every request runs in a trace: the caller's (W3C traceparent, or X-Ray's header) or new,
and leaves one log line when it ends."""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse

from modulith.observability import otel
from modulith.observability.logs import correlation_fields, log_context
from modulith.observability.trace import trace_context, trace_id, traceparent_from_xray, xray_header
from modulith.runtime import runtime

access_log = logging.getLogger("modulith.http")


class TraceMiddleware:
    """Runs the request in its trace (an HTTP server span with OpenTelemetry on), returns the
    trace in `traceparent`, `X-Trace-Id` and `X-Amzn-Trace-Id`, and gives its log lines the
    module of the route (`/api/<module>/…`, `/internal/<module>/…`) and the correlation fields
    of its query string and path (say, `orderId`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("traceparent") or traceparent_from_xray(
            request.headers.get("X-Amzn-Trace-Id")
        )
        module = _module_of(request.path)
        method = request.method or "GET"
        attributes: dict[str, str | int] = {"http.request.method": method, "url.path": request.path}
        if module:
            attributes[otel.MODULE] = module
        with (
            trace_context(incoming, method, kind="server", attributes=attributes) as traceparent,
            log_context(module=module, **_query_fields(request)) as fields,
        ):
            request.modulith_log_fields = fields  # type: ignore[attr-defined]
            response = self.get_response(request)
            _describe_span(request, method, response)
            response["traceparent"] = traceparent
            response["X-Trace-Id"] = trace_id()
            response["X-Amzn-Trace-Id"] = xray_header(traceparent) or ""
        return response

    def process_view(
        self,
        request: HttpRequest,
        view: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        """Path parameters name business ids too (`/api/orders/<order_id>`)."""
        fields = getattr(request, "modulith_log_fields", None)
        if fields is not None:
            fields.update(correlation_fields(kwargs))


class AccessLogMiddleware:
    """One line per request when it ends, "GET /api/orders/… 200 12.3 ms" on `modulith.http`
    (ERROR from 500 on, else INFO), with `http_method`, `http_path`, `http_status` and
    `duration_ms` as fields. Placed right after TraceMiddleware, so that the line carries the
    request's trace id, module and business ids. Health checks and scrapes answer before it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        method = request.method or "GET"
        status = response.status_code
        access_log.log(
            logging.ERROR if status >= 500 else logging.INFO,
            "%s %s %d %.1f ms",
            method,
            request.path,
            status,
            duration_ms,
            extra={
                "http_method": method,
                "http_path": request.path,
                "http_status": status,
                "duration_ms": duration_ms,
            },
        )
        return response


def _query_fields(request: HttpRequest) -> dict[str, str]:
    """The correlation fields of the query string; none of a query Django refuses to parse
    (more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters), which is the view's to answer: an
    internal endpoint refuses it as unsigned, before anything else, and nothing raises here."""
    try:
        return correlation_fields(request.GET)
    except TooManyFieldsSent:
        return {}


def _module_of(path: str) -> str | None:
    """The running module a path belongs to: its name is the first or second segment."""
    try:
        running = {module.name for module in runtime().topology.running_modules}
    except RuntimeError:
        return None
    for segment in path.strip("/").split("/")[:2]:
        if segment in running:
            return segment
    return None


def _describe_span(request: HttpRequest, method: str, response: HttpResponse) -> None:
    route = getattr(request.resolver_match, "route", None)
    if route:
        otel.rename(f"{method} /{route}")
        otel.annotate({"http.route": f"/{route}"})
    otel.annotate({"http.response.status_code": response.status_code})
    if response.status_code >= 500:
        otel.fail(f"HTTP {response.status_code}")
