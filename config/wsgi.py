"""The WSGI entry point (gunicorn, runserver)."""

import os
import sys

from django.core.wsgi import get_wsgi_application

from modulith.errors import ConfigurationError
from modulith.outbox.background import start_background_relay

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

try:
    application = get_wsgi_application()
except ConfigurationError as error:
    sys.stderr.write(f"configuration error: {error}\n")
    # 4 is gunicorn's "App failed to load": its master stops, instead of booting a new worker
    # that fails the same way, forever. Any other server just sees a non-zero exit.
    raise SystemExit(4) from None

from django.conf import settings

if settings.MODULITH_EMBEDDED_RELAY:
    start_background_relay(settings.MODULITH_RELAY_INTERVAL)
