"""The WSGI entry point (gunicorn, runserver). The embedded relay starts in the app's ready()
(see modulith.outbox.embedded_relay), not here."""

import os
import sys

from django.core.wsgi import get_wsgi_application

from modulith.modules.errors import ConfigurationError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

try:
    application = get_wsgi_application()
    # Imported once Django is set up (django-ninja, which the checks import, reads settings).
    from modulith.modules.checks import raise_for_errors

    raise_for_errors()  # a WSGI server runs no system checks: a broken manifest stops here
except ConfigurationError as error:
    for line in str(error).splitlines():
        sys.stderr.write(f"configuration error: {line}\n")
    # 4 is gunicorn's "App failed to load": its master stops, instead of booting a new worker
    # that fails the same way, forever. Any other server just sees a non-zero exit.
    raise SystemExit(4) from None
