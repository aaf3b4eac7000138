"""What the WSGI and ASGI entry points do before they serve: build the application, then run
the framework's checks, which a server does not (a broken manifest stops the server here)."""

import sys
from collections.abc import Callable
from typing import TypeVar

from modulith.modules.errors import ConfigurationError

App = TypeVar("App")


def checked(build: Callable[[], App]) -> App:
    try:
        application = build()
        # Imported once Django is set up (django-ninja, which the checks import, reads settings).
        from modulith.modules.checks import raise_for_errors

        raise_for_errors()
    except ConfigurationError as error:
        for line in str(error).splitlines():
            sys.stderr.write(f"configuration error: {line}\n")
        # 4 is gunicorn's "App failed to load": its master stops, instead of booting a new
        # worker that fails the same way, forever. Any other server just sees a non-zero exit.
        raise SystemExit(4) from None
    return application
