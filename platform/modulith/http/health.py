"""Liveness, readiness and metrics, for the load balancer, the orchestrator and Prometheus.

Served by a middleware ahead of everything else: a health check carries the task's IP as its
Host header, which ALLOWED_HOSTS may not list, and comes over plain HTTP. A scrape is checked
as any request is (its Host, its caller: modulith.http.scrape). (The front door does not route
/metrics: scrapers reach tasks directly.)
"""

from collections.abc import Callable

from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from modulith.http.scrape import scrape
from modulith.runtime import runtime

LIVE_PATH = "/health/live"
READY_PATH = "/health/ready"
METRICS_PATH = "/metrics"


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == LIVE_PATH:
            return _only_get(request) or live()
        if request.path == READY_PATH:
            return _only_get(request) or ready()
        if request.path == METRICS_PATH:
            return scrape(request)
        return self.get_response(request)


def live() -> JsonResponse:
    """The process answers: nothing more is checked, so a slow database never restarts it."""
    return JsonResponse({"status": "ok"})


def ready() -> JsonResponse:
    """Every database this process needs answers a query."""
    aliases = dict.fromkeys(["default", *runtime().topology.running_databases])
    checks = {alias: _check(alias) for alias in aliases}
    healthy = all(result == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "databases": checks},
        status=200 if healthy else 503,
    )


def _only_get(request: HttpRequest) -> HttpResponse | None:
    if request.method in {"GET", "HEAD"}:
        return None
    return JsonResponse({"error": "method_not_allowed", "message": "use GET"}, status=405)


def _check(alias: str) -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"error: {type(error).__name__}"
    finally:
        connections[alias].close_if_unusable_or_obsolete()
    return "ok"
