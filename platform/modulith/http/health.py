"""Liveness and readiness, for the load balancer and the orchestrator."""

from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from modulith.runtime import runtime


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing more is checked, so a slow database never restarts it."""
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Every database this process needs answers a query."""
    aliases = ["default", *(m.database for m in runtime().topology.running_modules)]
    checks = {alias: _check(alias) for alias in aliases}
    healthy = all(result == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "databases": checks},
        status=200 if healthy else 503,
    )


def _check(alias: str) -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"error: {type(error).__name__}"
    return "ok"
