"""The cold start of a function, and what surrounds each invocation.

The runtime imports a handler's module once per execution environment: that import sets up
Django (settings, apps, the framework's runtime, its checks), and every invocation after it
reuses what it built, database connections included. A configuration that cannot work stops
the cold start with one line per error, as gunicorn's start does (`config/wsgi.py`), instead
of a traceback in every invocation's log.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import django
from django.db import close_old_connections

from modulith.aws.lambdas.environment import load_secrets
from modulith.conf.extras import LAMBDA, require
from modulith.modules.errors import ConfigurationError
from modulith.observability import emf
from modulith.observability.logs import log_context


class LambdaContext(Protocol):
    """What the handlers use of the context the runtime passes to each invocation."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


def cold_start(*, serves_requests: bool = False) -> None:
    """Secrets into the environment, Django set up, the framework's checks run: once (those
    of a process that serves requests for the web function)."""
    try:
        require(LAMBDA, needed_by="a module on AWS Lambda")
        load_secrets(os.environ)
        if not os.environ.get("DJANGO_SETTINGS_MODULE"):
            raise ConfigurationError(
                "DJANGO_SETTINGS_MODULE is not set: name the project's settings module "
                "(the image's lambda role sets it)"
            )
        django.setup(set_prefix=False)
        # Imported once Django is set up (django-ninja, which the checks import, reads settings).
        from modulith.modules.checks import raise_for_errors

        raise_for_errors(serves_requests=serves_requests)
    except ConfigurationError as error:
        for line in str(error).splitlines():
            sys.stderr.write(f"configuration error: {line}\n")
        # Not an exception the runtime would report with a traceback: the function's init
        # fails with this exit, and its log holds the lines above.
        raise SystemExit(1) from None


@contextmanager
def invocation(context: LambdaContext) -> Iterator[None]:
    """One invocation: its log lines carry the request id, and database connections are
    reused from the last one unless broken or past CONN_MAX_AGE, as Django does around each
    request (the web function's requests do it again; it costs a check per connection). It
    ends with the metrics it counted, as EMF lines in its log (when MODULITH_METRICS_EMF is
    on, as it is by default on Lambda): the function is frozen once it answers."""
    with log_context(aws_request_id=context.aws_request_id):
        close_old_connections()
        try:
            yield
        finally:
            close_old_connections()
            if emf.enabled():
                emf.flush()
