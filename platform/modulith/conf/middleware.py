"""The framework's middleware, in the order it needs, ahead of the project's own."""

# Health checks and /metrics answer first: the load balancer and the scraper send the task's
# IP as Host, which ALLOWED_HOSTS (checked by the middleware after these) rightly refuses for
# every other path. The trace comes next, so that every line logged after it carries the trace
# id, the access log line included; the access log wraps the rest, so it times and records
# whatever answers, a later middleware's refusal too.
FRAMEWORK_MIDDLEWARE = (
    "modulith.http.health.HealthCheckMiddleware",
    "modulith.http.middleware.TraceMiddleware",
    "modulith.http.middleware.AccessLogMiddleware",
)


def middleware(*project_middleware: str) -> list[str]:
    """MIDDLEWARE: the framework's first, then the project's (Django's own among them), in
    the order given."""
    return [
        *FRAMEWORK_MIDDLEWARE,
        *(name for name in project_middleware if name not in FRAMEWORK_MIDDLEWARE),
    ]
