"""The web function: the Django app behind API Gateway (HTTP API with payload format 2.0, or a
REST API's 1.0) or an ALB target group, through apig-wsgi, which turns each event into a WSGI
request and the response back into the answer the front door expects.

The request runs through the same middleware as under gunicorn (health checks, the trace and
its headers, the access log line), so the API, its errors and its trace headers are the same.
Deliveries after a commit run inline before the answer (the default on Lambda)."""

from typing import Any

from django.core.handlers.wsgi import WSGIHandler

from modulith.aws.lambdas.start import LambdaContext, cold_start, invocation

cold_start(serves_requests=True)  # first: it says in one line that the lambda extra is missing

from apig_wsgi import make_lambda_handler  # noqa: E402

application = WSGIHandler()
_front_door = make_lambda_handler(application)


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with invocation(context):
        return _front_door(event, context)
