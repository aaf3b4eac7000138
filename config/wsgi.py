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
    raise SystemExit(2) from None

from django.conf import settings

if settings.MODULITH_EMBEDDED_RELAY:
    start_background_relay(settings.MODULITH_RELAY_INTERVAL)
