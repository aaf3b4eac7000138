"""Every request runs in a trace: the caller's (W3C traceparent, or X-Ray's header) or new."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from modulith.observability.trace import trace_context, trace_id, traceparent_from_xray, xray_header


class TraceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("traceparent") or traceparent_from_xray(
            request.headers.get("X-Amzn-Trace-Id")
        )
        with trace_context(incoming) as traceparent:
            response = self.get_response(request)
            response["traceparent"] = traceparent
            response["X-Trace-Id"] = trace_id()
            response["X-Amzn-Trace-Id"] = xray_header(traceparent) or ""
        return response
