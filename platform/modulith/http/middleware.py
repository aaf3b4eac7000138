"""Every request runs in a trace: the caller's (W3C traceparent, or X-Ray's header) or new."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from modulith.observability.trace import trace_context, trace_id

_XRAY_ROOT = "Root=1-"


def _traceparent_from_xray(header: str) -> str | None:
    """X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;... -> a traceparent."""
    for part in header.split(";"):
        if part.strip().startswith(_XRAY_ROOT):
            epoch, _, unique = part.strip()[len(_XRAY_ROOT) :].partition("-")
            return f"00-{epoch}{unique}-{'0' * 15}1-01"
    return None


class TraceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("traceparent") or _traceparent_from_xray(
            request.headers.get("X-Amzn-Trace-Id", "")
        )
        with trace_context(incoming) as traceparent:
            response = self.get_response(request)
            response["traceparent"] = traceparent
            response["X-Trace-Id"] = trace_id()
        return response
